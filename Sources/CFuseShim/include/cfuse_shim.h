#ifndef DSD_CFUSE_SHIM_PUBLIC_H
#define DSD_CFUSE_SHIM_PUBLIC_H
#define FUSE_USE_VERSION 314
#include <fuse_lowlevel.h>
#include <sys/types.h>

/// Creates a low-level session from an argument vector (`FUSE_ARGS_INIT` is a macro).
/// Returns NULL when libfuse rejects the options.
struct fuse_session *cfuse_session_new(int argc, const char *const *argv,
                                       const struct fuse_lowlevel_ops *ops, void *userdata);

/// Runs the multithreaded loop (`fuse_session_loop_mt` is a versioned macro).
int cfuse_session_loop_mt(struct fuse_session *se, unsigned max_threads, unsigned max_idle_threads);

/// The calling thread's kernel id, which FUSE reports as the request's `pid`.
pid_t cfuse_gettid(void);

/// Sets the open flags of a file handle (bit fields cannot be written from Swift reliably).
void cfuse_fi_set_open_flags(struct fuse_file_info *fi, int direct_io, int keep_cache,
                             int nonseekable, int noflush);

/// statfs(2) of a path: 0, or the errno (`statfs` names both a struct and a function, which
/// Swift cannot call).
int cfuse_statfs_errno(const char *path);

#endif
