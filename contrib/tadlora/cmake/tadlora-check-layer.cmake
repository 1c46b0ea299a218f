# Fails when a learning source includes an ns-3 header. Run by the build (cmake -P) with
# FILES set to the learning layer's sources and headers: Debian installs ns-3's headers on the
# compiler's default include path, so leaving ns-3 off the target's include path is not enough.
foreach(file IN LISTS FILES)
  file(STRINGS "${file}" lines REGEX "^[ \t]*#[ \t]*include[ \t]*[<\"]ns3/")
  if(lines)
    list(GET lines 0 line)
    # NOTICE prints the line as it is; FATAL_ERROR would wrap it.
    message(NOTICE "${file}: the learning layer may not include ns-3 (${line})")
    message(FATAL_ERROR "learning layer check failed")
  endif()
endforeach()
