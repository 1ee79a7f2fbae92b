#ifndef DSD_CFUSE_SHIM_PUBLIC_H
#define DSD_CFUSE_SHIM_PUBLIC_H
#define FUSE_USE_VERSION 314
#include <fuse_lowlevel.h>
#endif
