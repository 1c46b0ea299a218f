// SPDX-License-Identifier: GPL-2.0-only
// Out of tree only: ns-3's TestRunner (libns3-core) for the suites linked in, as ns-3's own
// utils/test-runner.cc runs them in tree. ctest runs it with --suite=tadlora.

#include "ns3/test.h"

int
main(int argc, char** argv)
{
    return ns3::TestRunner::Run(argc, argv);
}
