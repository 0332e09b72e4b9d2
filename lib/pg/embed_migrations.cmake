# Writes a C++ file holding every migration under MIGRATIONS_DIR as a string,
# so the installed binary needs no source tree. Run at build time:
#   cmake -DMIGRATIONS_DIR=<dir> -DOUT=<file.cpp> -P embed_migrations.cmake
# Files are <set>/NNNN_name.sql with <set> "engine" or "app"; NNNN is the
# version (applied in increasing order, each at most once).
cmake_minimum_required(VERSION 3.25)

set(_out "// Generated from lib/pg/migrations/ by lib/pg/embed_migrations.cmake: do not edit.\n")
string(APPEND _out "#include \"pg/migrations.hpp\"\n\nnamespace celeriac::pg {\n")

foreach(_set engine app)
  file(GLOB _files RELATIVE ${MIGRATIONS_DIR}/${_set} ${MIGRATIONS_DIR}/${_set}/*.sql)
  list(SORT _files)
  if(NOT _files)
    message(FATAL_ERROR "no migrations in ${MIGRATIONS_DIR}/${_set}")
  endif()
  set(_seen "")
  string(APPEND _out "\nstd::span<const migration> ${_set}_migrations() noexcept {\n  static const migration list[] = {\n")
  foreach(_file ${_files})
    if(NOT _file MATCHES "^([0-9]+)_([a-z0-9_]+)\\.sql$")
      message(FATAL_ERROR "migration file ${_set}/${_file} is not named NNNN_name.sql (lower case, digits, '_')")
    endif()
    math(EXPR _version "${CMAKE_MATCH_1}")
    set(_name ${CMAKE_MATCH_2})
    if(_version IN_LIST _seen)
      message(FATAL_ERROR "two ${_set} migrations have version ${_version}")
    endif()
    list(APPEND _seen ${_version})
    file(READ ${MIGRATIONS_DIR}/${_set}/${_file} _sql)
    if(_sql MATCHES "\\)celeriac_sql\"")
      message(FATAL_ERROR "${_set}/${_file} contains the raw-string delimiter )celeriac_sql\"")
    endif()
    string(APPEND _out "      {${_version}, \"${_name}\", R\"celeriac_sql(${_sql})celeriac_sql\"},\n")
  endforeach()
  string(APPEND _out "  };\n  return list;\n}\n")
endforeach()

string(APPEND _out "\n}  // namespace celeriac::pg\n")

# Rewrite only on change, so an unchanged migration set rebuilds nothing.
if(EXISTS ${OUT})
  file(READ ${OUT} _old)
  if(_old STREQUAL _out)
    return()
  endif()
endif()
file(WRITE ${OUT} "${_out}")
