# A made-up forum history for `make demo`, as import lines (docs/import.md):
# ACCOUNTS accounts registered 2020-01..2026-10, their logins, consents and
# withdrawals, a policy 1.02, three disclosure recipients, deletion requests
# (some cancelled), and access-log lines of the last weeks. All fictitious:
# example.org addresses, documentation IP ranges (RFC 5737).
#
#   awk -v ACCOUNTS=500 -f demo_history.awk | sort -s -k1,1 | cut -f2-
#
# Output lines are "TIMESTAMP<TAB>JSON"; the stable sort puts the whole file
# in time order (what import's in-order rule checks need: a policy before the
# registrations that accept it) while keeping each account's own order. The
# generator is deterministic (its own Park-Miller generator, not rand(), which
# differs between awk implementations), so the same file is made on every
# run and a second `make demo` imports nothing twice.

function rnd() { seed = (seed * 16807) % 2147483647; return seed / 2147483647 }
function pick(n) { return int(rnd() * n) }

# Seconds since 1970 to RFC 3339 UTC (Howard Hinnant's civil_from_days).
function iso(t,    z, era, doe, yoe, y, doy, mp, d, m, s) {
  z = int(t / 86400) + 719468; s = t - int(t / 86400) * 86400
  era = int(z / 146097); doe = z - era * 146097
  yoe = int((doe - int(doe / 1460) + int(doe / 36524) - int(doe / 146096)) / 365)
  y = yoe + era * 400; doy = doe - (365 * yoe + int(yoe / 4) - int(yoe / 100))
  mp = int((5 * doy + 2) / 153); d = doy - int((153 * mp + 2) / 5) + 1
  m = mp < 10 ? mp + 3 : mp - 9; if (m <= 2) y++
  return sprintf("%04d-%02d-%02dT%02d:%02d:%02dZ", y, m, d, int(s / 3600), int(s % 3600 / 60), s % 60)
}

function emit(t, json) { printf "%s\t%s\n", iso(t), json }

function line(type, id, t, rest) {
  emit(t, sprintf("{\"type\":\"%s\",\"account_id\":%d,\"occurred_at\":\"%s\"%s}", type, id, iso(t), rest))
}

function ip(id) { return sprintf("%s.%d", nets[id % 3], 1 + id % 250) }

function policy_and_recipients() {
  emit(T2019, sprintf("{\"type\":\"register-recipient\",\"occurred_at\":\"%s\",\"name\":\"Example Payments Ltd\",\"country\":\"GB\"}", iso(T2019)))
  emit(T2019, sprintf("{\"type\":\"register-recipient\",\"occurred_at\":\"%s\",\"name\":\"Beispiel Versand GmbH\",\"country\":\"DE\"}", iso(T2019)))
  emit(T2019, sprintf("{\"type\":\"register-recipient\",\"occurred_at\":\"%s\",\"name\":\"Contoso Analytics Inc\",\"country\":\"US\"}", iso(T2019)))
  emit(T102, sprintf("{\"type\":\"publish-policy\",\"occurred_at\":\"%s\",\"version\":\"1.02\",\"effective_at\":\"%s\",\"summary\":\"demo: analytics cookies need a fresh consent\",\"text\":\"Demo forum privacy policy 1.02. Analytics and marketing cookies are set only after a new, separate consent.\"}", iso(T102), iso(T102E)))
}

function register(id, t,    g, by, pol) {
  g = genders[pick(4)]
  by = sprintf("%04d-%02d-%02d", 1950 + pick(55), 1 + pick(12), 1 + pick(28))
  pol = t >= T102E ? "1.02" : "1.01"
  line("register", id, t, sprintf(",\"nickname\":\"demo-user-%d\",\"email\":\"demo%d@example.org\",\"password\":\"demo-password-%d\",\"gender\":\"%s\",\"birthdate\":\"%s\",\"ip\":\"%s\",\"accept_policy\":\"%s\"", id, id, id, g, by, ip(id), pol))
}

function consents(id, t,    p) {
  for (p = 1; p <= 4; p++)
    if (rnd() < share[p]) { line("consent", id, t + 60, ",\"give\":\"" purposes[p] "\""); given[p] = 1 } else given[p] = 0
}

# Logins spread from registration to the last active time, a withdrawal of
# analytics consent after 1.02 for some, disclosures for those who allowed
# forwarding.
function activity(id, t0, t1,    n, k, t, dt, w) {
  n = 1 + pick(6); dt = (t1 - t0) / n; w = given[2] && t1 > T102E && rnd() < 0.5
  for (k = 1; k <= n; k++) {
    t = int(t0 + k * dt)
    if (w && t > T102E) { line("consent", id, t - 30, ",\"withdraw\":\"cookies_analytics_marketing\""); w = 0 }
    if (rnd() < 0.08) line("login_failed", id, t - 20, ",\"ip\":\"" ip(id + 7) "\"")
    line("login", id, t, ",\"ip\":\"" ip(id) "\"")
    if (given[4] && rnd() < 0.3) disclose(id, t + 10)
  }
}

function disclose(id, t,    r) {
  r = pick(3)
  line("disclose", id, t, sprintf(",\"recipient\":\"%s\",\"purpose\":\"%s\",\"legal_basis\":\"consent\",\"safeguard\":\"%s\"", rnames[r], rpurpose[r], rsafe[r]))
}

function deletion(id, t) {
  line("request-deletion", id, t, "")
  if (rnd() < 0.25) line("cancel-deletion", id, t + 86400, "")
}

function account(id,    t0, t1, span) {
  t0 = T2020 + int(rnd() * (TEND - 30 * 86400 - T2020))
  # A third leave soon after joining; the others stay active for a while.
  span = rnd() < 0.35 ? rnd() * 180 * 86400 : rnd() * (TEND - t0)
  t1 = t0 + int(span); if (t1 < t0 + 7200) t1 = t0 + 7200; if (t1 > TEND) t1 = TEND
  register(id, t0); consents(id, t0); activity(id, t0 + 3600, t1)
  if (rnd() < 0.12 && t1 + 86400 < TEND) deletion(id, t1 + 86400)
}

function access_log(    k, t) {
  for (k = 0; k < 240; k++) {
    t = TEND - pick(50) * 86400 - pick(86400)
    emit(t, sprintf("{\"type\":\"record-access\",\"occurred_at\":\"%s\",\"ip\":\"%s\",\"path\":\"/t/%d\"}", iso(t), ip(k), pick(900)))
  }
}

BEGIN {
  if (ACCOUNTS < 1 || ACCOUNTS > 100000) { print "ACCOUNTS must be 1..100000" > "/dev/stderr"; exit 2 }
  seed = 20261201
  T2019 = 1546300800; T2020 = 1577836800; TEND = 1795132800   # 2019-01-01, 2020-01-01, 2026-11-20
  T102 = 1709251200; T102E = 1711929600                       # 1.02 published 2024-03-01, in effect 2024-04-01
  split("192.0.2 198.51.100 203.0.113", nets, " "); nets[0] = nets[3]
  split("female male diverse unspecified", genders, " "); genders[0] = genders[4]
  split("notifications cookies_analytics_marketing surveys third_party_forwarding", purposes, " ")
  share[1] = 0.5; share[2] = 0.4; share[3] = 0.2; share[4] = 0.3
  rnames[0] = "Example Payments Ltd"; rpurpose[0] = "payment of a premium membership"; rsafe[0] = "adequacy_decision"
  rnames[1] = "Beispiel Versand GmbH"; rpurpose[1] = "shipping of forum merchandise"; rsafe[1] = "none"
  rnames[2] = "Contoso Analytics Inc"; rpurpose[2] = "audience measurement"; rsafe[2] = "standard_contractual_clauses"
  policy_and_recipients()
  for (id = 1001; id < 1001 + ACCOUNTS; id++) account(id)
  access_log()
}
