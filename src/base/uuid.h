/* uuid.h: random (version 4) UUIDs from getrandom(). */
#pragma once
#include "base.h"

#define UUID_STR_LEN 37 /* 36 characters and the NUL */
void uuid_v4(char out[UUID_STR_LEN]);
