# cmake -DNM=<nm> -DLIBRARY=<.so> -DLIST=<exported_symbols.txt> -P check_exports.cmake
#
# Fails unless the library's defined dynamic symbols (nm -D --defined-only) are exactly the
# functions listed in exported_symbols.txt (one per line, # comments), naming the difference.
foreach(var NM LIBRARY LIST)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "check_exports.cmake: -D${var}=... is required")
  endif()
endforeach()

execute_process(
  COMMAND "${NM}" -D --defined-only "${LIBRARY}"
  OUTPUT_VARIABLE nm_out
  RESULT_VARIABLE nm_rc
  ERROR_VARIABLE nm_err)
if(NOT nm_rc EQUAL 0)
  message(FATAL_ERROR "${NM} -D --defined-only ${LIBRARY} failed: ${nm_err}")
endif()

set(exported "")
string(REPLACE "\n" ";" nm_lines "${nm_out}")
foreach(line IN LISTS nm_lines)
  # "<address> <type> <name>[@version]"
  if(line MATCHES "^[0-9a-fA-F]+ [A-Za-z] ([^ @]+)")
    list(APPEND exported "${CMAKE_MATCH_1}")
  endif()
endforeach()

file(STRINGS "${LIST}" list_lines)
set(wanted "")
foreach(line IN LISTS list_lines)
  string(STRIP "${line}" line)
  if(line STREQUAL "" OR line MATCHES "^#")
    continue()
  endif()
  list(APPEND wanted "${line}")
endforeach()

list(SORT exported)
list(REMOVE_DUPLICATES exported)
list(SORT wanted)
set(missing ${wanted})
if(exported)
  list(REMOVE_ITEM missing ${exported})
endif()
set(extra ${exported})
if(wanted)
  list(REMOVE_ITEM extra ${wanted})
endif()
list(LENGTH wanted n_wanted)
if(missing OR extra)
  message(FATAL_ERROR
    "${LIBRARY} does not export exactly ${LIST}:\n"
    "  missing: ${missing}\n  not listed: ${extra}")
endif()
message(STATUS "${LIBRARY}: the ${n_wanted} functions of ${LIST}, nothing else")
