// The only C++ in librmw_l2net_cpp: reading and writing the std::string and std::u16string
// members of rosidl C++ messages. Their layout and allocator belong to the C++ standard
// library, so the Rust side never touches them directly. No exception leaves these functions.
// The symbols are hidden: they are internal to the shared object.
#include <cstddef>
#include <string>

#define L2NET_HIDDEN __attribute__((visibility("hidden")))

extern "C" {

L2NET_HIDDEN const char * l2net_rmw_cxx_string_view(const void * s, std::size_t * len) noexcept
{
  const auto * str = static_cast<const std::string *>(s);
  *len = str->size();
  return str->data();
}

// Returns 0 on success, -1 if the allocation failed (the string is then unchanged).
L2NET_HIDDEN int l2net_rmw_cxx_string_assign(void * s, const char * data, std::size_t len) noexcept
{
  try {
    static_cast<std::string *>(s)->assign(data, len);
    return 0;
  } catch (...) {
    return -1;
  }
}

L2NET_HIDDEN const char16_t * l2net_rmw_cxx_u16string_view(
  const void * s, std::size_t * len) noexcept
{
  const auto * str = static_cast<const std::u16string *>(s);
  *len = str->size();
  return str->data();
}

L2NET_HIDDEN int l2net_rmw_cxx_u16string_assign(
  void * s, const char16_t * data, std::size_t len) noexcept
{
  try {
    static_cast<std::u16string *>(s)->assign(data, len);
    return 0;
  } catch (...) {
    return -1;
  }
}

L2NET_HIDDEN std::size_t l2net_rmw_cxx_string_size_of() noexcept {return sizeof(std::string);}
L2NET_HIDDEN std::size_t l2net_rmw_cxx_u16string_size_of() noexcept
{
  return sizeof(std::u16string);
}

}  // extern "C"
