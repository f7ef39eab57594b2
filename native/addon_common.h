// Shared helpers for the two addons (carp_codec, carp_io).
#pragma once
#include <napi.h>
