#define _GNU_SOURCE
#include "cfuse_shim.h"
#include <unistd.h>
#include <sys/syscall.h>
#include <sys/vfs.h>
#include <errno.h>

struct fuse_session *cfuse_session_new(int argc, const char *const *argv,
                                       const struct fuse_lowlevel_ops *ops, void *userdata) {
    struct fuse_args args = FUSE_ARGS_INIT(0, NULL);
    for (int i = 0; i < argc; i++) {
        if (fuse_opt_add_arg(&args, argv[i]) != 0) {
            fuse_opt_free_args(&args);
            return NULL;
        }
    }
    struct fuse_session *se = fuse_session_new(&args, ops, sizeof(*ops), userdata);
    fuse_opt_free_args(&args);
    return se;
}

int cfuse_session_loop_mt(struct fuse_session *se, unsigned max_threads, unsigned max_idle_threads) {
    struct fuse_loop_config *config = fuse_loop_cfg_create();
    if (config == NULL) return -1;
    fuse_loop_cfg_set_clone_fd(config, 0);
    fuse_loop_cfg_set_max_threads(config, max_threads);
    fuse_loop_cfg_set_idle_threads(config, max_idle_threads);
    int rc = fuse_session_loop_mt(se, config);
    fuse_loop_cfg_destroy(config);
    return rc;
}

pid_t cfuse_gettid(void) { return (pid_t)syscall(SYS_gettid); }

void cfuse_fi_set_open_flags(struct fuse_file_info *fi, int direct_io, int keep_cache,
                             int nonseekable, int noflush) {
    fi->direct_io = direct_io ? 1 : 0;
    fi->keep_cache = keep_cache ? 1 : 0;
    fi->nonseekable = nonseekable ? 1 : 0;
    fi->noflush = noflush ? 1 : 0;
}

int cfuse_statfs_errno(const char *path) {
    struct statfs info;
    return statfs(path, &info) == 0 ? 0 : errno;
}
