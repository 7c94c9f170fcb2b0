#ifndef STOCKOPS_CSODIUM_SHIM_H
#define STOCKOPS_CSODIUM_SHIM_H
#include <sodium.h>
#endif
