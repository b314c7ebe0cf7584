/* verify-cli: `cellos verify` on its own, for tests/integration/test_sign_interop.py
 * (src/cli/verify.c is linked into the cellos binary by the CLI). */
#include "event/verify.h"

int main(int argc, char **argv)
{
    return cmd_verify(argc, argv);
}
