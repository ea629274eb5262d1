/* Prints the implementation identifier of librmw_l2net_cpp.so twice: through the link (the
 * program is linked against the library, as a CMake consumer of rmw_l2net_cpp::rmw_l2net_cpp
 * is) and, given an implementation name, through dlopen("lib<name>.so") resolved by
 * LD_LIBRARY_PATH, which is how rmw_implementation loads the middleware named by
 * RMW_IMPLEMENTATION. Exit status 0 only when both answers are equal and non-empty.
 *
 *   print_identifier [IMPLEMENTATION] */
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

/* From rmw/rmw.h (ROS need not be installed to build this). */
const char * rmw_get_implementation_identifier(void);

int main(int argc, char ** argv)
{
  const char * linked = rmw_get_implementation_identifier();
  if (linked == NULL || linked[0] == '\0') {
    fprintf(stderr, "rmw_get_implementation_identifier() returned nothing\n");
    return 1;
  }
  printf("%s\n", linked);
  if (argc < 2) {
    return 0;
  }
  char name[256];
  if (snprintf(name, sizeof name, "lib%s.so", argv[1]) >= (int)sizeof name) {
    fprintf(stderr, "implementation name too long\n");
    return 2;
  }
  void * lib = dlopen(name, RTLD_NOW | RTLD_LOCAL);
  if (lib == NULL) {
    fprintf(stderr, "dlopen(%s): %s\n", name, dlerror());
    return 1;
  }
  const char * (*get)(void) =
    (const char * (*)(void))dlsym(lib, "rmw_get_implementation_identifier");
  if (get == NULL) {
    fprintf(stderr, "dlsym(rmw_get_implementation_identifier): %s\n", dlerror());
    return 1;
  }
  const char * loaded = get();
  printf("%s\n", loaded ? loaded : "(null)");
  if (loaded == NULL || strcmp(loaded, linked) != 0) {
    fprintf(stderr, "the library loaded by name is not the one linked\n");
    return 1;
  }
  return 0;
}
