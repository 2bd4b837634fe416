# Turns the viewer page into a C++ source: cmake -DIN=page.html -DOUT=x.cpp -P embed.cmake
file(READ "${IN}" page)
string(FIND "${page}" ")canary_page\"" clash)
if(NOT clash EQUAL -1)
  message(FATAL_ERROR "${IN} contains the raw-string delimiter )canary_page\"")
endif()
file(WRITE "${OUT}.tmp" "// Generated from ${IN} by tools/viewer/embed.cmake.\n#include \"viewer.h\"\n\n"
     "std::string_view canary::graph_viewer_html() {\n  return R\"canary_page(${page})canary_page\";\n}\n")
file(COPY_FILE "${OUT}.tmp" "${OUT}" ONLY_IF_DIFFERENT)
file(REMOVE "${OUT}.tmp")
