#ifndef STOCKOPS_CLIBPQ_SHIM_H
#define STOCKOPS_CLIBPQ_SHIM_H
#include <libpq-fe.h>
#endif
