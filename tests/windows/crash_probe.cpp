// Exits 0 when given "exit"; otherwise crashes on purpose (an illegal instruction), so that the
// Windows test run proves that a crash under Wine fails its test.
#include <cstring>

int main(int argc, char** argv) {
  if (argc > 1 && std::strcmp(argv[1], "exit") == 0) return 0;
  __builtin_trap();
}
