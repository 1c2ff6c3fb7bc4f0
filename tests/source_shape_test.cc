// The shape of the source tree, checked on every `make test` so that today's
// numbers hold: no function over kFunctionLinesMax lines, no file over
// kFileLinesMax lines, and the README's module map names exactly the folders
// that hold code. The function finder is a brace matcher, not a parser: it
// skips comments, string and character literals, and counts a brace block as a
// function body when it opens at namespace or class scope after a `)`.
#include <catch2/catch.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace {

namespace fs = std::filesystem;

constexpr size_t kFunctionLinesMax = 70;
constexpr size_t kFileLinesMax = 600;
const char* const kCodeFolders[] = {"events", "core", "projections", "server", "replay", "tests"};

struct Function {
  size_t first_line = 0;  // the line of the opening brace, 1-based
  size_t lines = 0;       // opening to closing brace, both included
};

// The code with comments and literals blanked out (newlines kept), so that
// braces inside them do not count.
std::string Blank(const std::string& code) {
  std::string out = code;
  enum { kCode, kLine, kBlock, kString, kChar } state = kCode;
  for (size_t i = 0; i < out.size(); ++i) {
    const char c = out[i], next = i + 1 < out.size() ? out[i + 1] : '\0';
    const bool newline = c == '\n';
    switch (state) {
      case kCode:
        if (c == '/' && next == '/') state = kLine;
        else if (c == '/' && next == '*') state = kBlock;
        else if (c == '"') state = kString;
        else if (c == '\'' && !(i > 0 && std::isxdigit(static_cast<unsigned char>(out[i - 1])))) state = kChar;
        continue;
      case kLine:
        if (newline) state = kCode;
        break;
      case kBlock:
        if (c == '*' && next == '/') { out[i] = out[i + 1] = ' '; ++i; state = kCode; continue; }
        break;
      case kString:
      case kChar:
        if (c == '\\') { out[i] = ' '; if (next != '\n') out[++i] = ' '; continue; }
        if ((state == kString && c == '"') || (state == kChar && c == '\'')) { state = kCode; continue; }
        break;
    }
    if (!newline) out[i] = ' ';
  }
  return out;
}

// What a brace opens, judged by the text since the previous ; { or }.
enum class Scope { kNamespace, kType, kFunction, kOther };

Scope Classify(const std::string& head, bool outer_is_code) {
  static const std::regex kNamespace(R"(\bnamespace\b[\w\s:]*$|\bextern\s*$)");
  static const std::regex kType(R"(\b(class|struct|union|enum)\b[^()]*$)");
  if (outer_is_code) return Scope::kOther;
  if (std::regex_search(head, kNamespace)) return Scope::kNamespace;
  if (std::regex_search(head, kType)) return Scope::kType;
  if (head.find(')') != std::string::npos && head.find('=') == std::string::npos) return Scope::kFunction;
  return Scope::kOther;
}

std::vector<Function> FindFunctions(const std::string& code) {
  const std::string blank = Blank(code);
  std::vector<Function> out;
  std::vector<std::pair<Scope, size_t>> open;  // scope, line of its brace
  std::string head;
  size_t line = 1;
  for (char c : blank) {
    if (c == '\n') ++line;
    if (c == '{') {
      const bool in_code = std::any_of(open.begin(), open.end(), [](const auto& s) {
        return s.first == Scope::kFunction || s.first == Scope::kOther;
      });
      open.emplace_back(Classify(head, in_code), line);
      head.clear();
    } else if (c == '}') {
      if (open.empty()) return out;  // unbalanced: the compiler will say more
      if (open.back().first == Scope::kFunction) out.push_back({open.back().second, line - open.back().second + 1});
      open.pop_back();
      head.clear();
    } else if (c == ';') {
      head.clear();
    } else {
      head += c;
    }
  }
  return out;
}

fs::path SourceDir() { return fs::path(ACCOUNTABLE_SOURCE_DIR); }

std::string ReadFile(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

bool IsCode(const fs::path& p) { return p.extension() == ".cc" || p.extension() == ".h"; }

// Every .cc and .h of the project, tests and benchmarks included, vectors not.
std::vector<fs::path> CodeFiles() {
  std::vector<fs::path> files;
  for (const char* folder : kCodeFolders)
    for (const auto& e : fs::recursive_directory_iterator(SourceDir() / folder))
      if (e.is_regular_file() && IsCode(e.path())) files.push_back(e.path());
  std::sort(files.begin(), files.end());
  return files;
}

size_t CountLines(const std::string& text) { return size_t(std::count(text.begin(), text.end(), '\n')); }

// The folders in the first column of the README's "Module map" table.
std::set<std::string> ModuleMapFolders() {
  const std::string readme = ReadFile(SourceDir() / "README.md");
  const size_t start = readme.find("## Module map");
  const size_t end = readme.find("\n## ", start + 1);
  std::istringstream section(readme.substr(start, end - start));
  static const std::regex kRow(R"(^\| `([a-z_/]+)/` \|)");
  std::set<std::string> folders;
  std::smatch m;
  for (std::string row; std::getline(section, row);)
    if (std::regex_search(row, m, kRow)) folders.insert(m[1]);
  return folders;
}

// Folders holding code or a schema, relative to the source dir; benchmarks
// and vectors belong to tests/.
std::set<std::string> CodeFolders() {
  std::set<std::string> folders;
  for (const auto& file : CodeFiles()) {
    std::string rel = fs::relative(file.parent_path(), SourceDir()).generic_string();
    if (rel.rfind("tests/", 0) == 0) rel = "tests";
    folders.insert(rel);
  }
  return folders;
}

}  // namespace

TEST_CASE("the function finder measures bodies and skips what is not one") {
  const std::string code =
      "namespace a {\n"                        // 1
      "struct S {\n"                           // 2
      "  int f() const { return 1; }\n"        // 3: one line
      "};\n"                                   // 4
      "int g(int x) {\n"                       // 5
      "  auto l = [] { return '}'; };\n"       // 6: a brace in a literal, a lambda
      "  // } in a comment\n"                  // 7
      "  if (x) { return \"{\"; }\n"           // 8
      "  return l();\n"                        // 9
      "}\n"                                    // 10
      "const int kTable[] = {1, 2};\n"         // 11: an initializer, no function
      "}  // namespace a\n";
  const std::vector<Function> found = FindFunctions(code);
  REQUIRE(found.size() == 2);
  CHECK(found[0].first_line == 3);
  CHECK(found[0].lines == 1);
  CHECK(found[1].first_line == 5);
  CHECK(found[1].lines == 6);
}

TEST_CASE("the function finder reports a body over the limit") {
  std::string code = "void Long() {\n";
  for (size_t i = 0; i < kFunctionLinesMax; ++i) code += "  Step();\n";
  code += "}\n";
  const std::vector<Function> found = FindFunctions(code);
  REQUIRE(found.size() == 1);
  CHECK(found[0].lines == kFunctionLinesMax + 2);
}

TEST_CASE("no source function is longer than 70 lines") {
  size_t functions = 0;
  for (const auto& file : CodeFiles()) {
    for (const Function& f : FindFunctions(ReadFile(file))) {
      ++functions;
      INFO(fs::relative(file, SourceDir()).string() << ":" << f.first_line << " spans " << f.lines << " lines");
      CHECK(f.lines <= kFunctionLinesMax);
    }
  }
  CHECK(functions > 500);  // the finder found the code at all
}

TEST_CASE("no source file is longer than 600 lines") {
  const std::vector<fs::path> files = CodeFiles();
  CHECK(files.size() > 100);
  for (const auto& file : files) {
    INFO(fs::relative(file, SourceDir()).string());
    CHECK(CountLines(ReadFile(file)) <= kFileLinesMax);
  }
}

TEST_CASE("the README's module map names exactly the folders that hold code") {
  const std::set<std::string> in_map = ModuleMapFolders();
  const std::set<std::string> on_disk = CodeFolders();
  for (const auto& folder : on_disk) {
    INFO("folder with code, missing from the module map: " << folder);
    CHECK(in_map.count(folder) == 1);
  }
  for (const auto& folder : in_map) {
    INFO("module map names a folder without code: " << folder);
    CHECK(on_disk.count(folder) == 1);
    if (folder != "tests") CHECK(fs::exists(SourceDir() / folder / "CMakeLists.txt"));
  }
}
