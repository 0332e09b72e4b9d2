# Pure parts of the LLM family: no network, no database (unit-tested in
# tests/unit/llm). Included from tasks/llm/CMakeLists.txt.
find_package(tomlplusplus REQUIRED)
add_library(celeriac_llm_pure STATIC
  ${CMAKE_CURRENT_LIST_DIR}/backoff.cpp
  ${CMAKE_CURRENT_LIST_DIR}/config_reader.cpp
  ${CMAKE_CURRENT_LIST_DIR}/heuristic.cpp
  ${CMAKE_CURRENT_LIST_DIR}/heuristic_table.cpp
  ${CMAKE_CURRENT_LIST_DIR}/mapping_answer.cpp
  ${CMAKE_CURRENT_LIST_DIR}/mapping_contract.cpp
  ${CMAKE_CURRENT_LIST_DIR}/merchant_key.cpp
  ${CMAKE_CURRENT_LIST_DIR}/provider_config.cpp
  ${CMAKE_CURRENT_LIST_DIR}/token_estimate.cpp
  ${CMAKE_CURRENT_LIST_DIR}/utf8_text.cpp)
target_include_directories(celeriac_llm_pure PUBLIC ${PROJECT_SOURCE_DIR} ${PROJECT_SOURCE_DIR}/lib)
target_link_libraries(celeriac_llm_pure PUBLIC celeriac_json PRIVATE tomlplusplus::tomlplusplus fmt::fmt)
