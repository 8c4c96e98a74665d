/* AddressSanitizer builds only (HSMBAK_SANITIZE=ON).
 *
 * pkcs11-provider 1.0 dlopen()s the PKCS#11 module with RTLD_DEEPBIND, and
 * the sanitizer runtime aborts the process on that flag ("You are trying to
 * dlopen a ... shared library with RTLD_DEEPBIND flag which is incompatible
 * with sanitizer runtime", google/sanitizers#611). A dlopen defined in the
 * executable comes first in symbol lookup, ahead of the sanitizer's own
 * interceptor, so this one drops the flag and passes the call on (to the
 * interceptor, then libc). RTLD_DEEPBIND only isolates the module's own
 * dependencies; nothing in our builds needs that. Release builds do not
 * contain this function. */
#include "provider/provider_internal.h"

#include <dlfcn.h>

/* Referenced from module.c so that the linker takes this object out of the
 * static library even though the sanitizer runtime, linked earlier, already
 * defines dlopen. */
void hb_sanitizer_link(void)
{
}

#if defined(__SANITIZE_ADDRESS__)
#include <stdatomic.h>
#include <stddef.h>

typedef void *(*dlopen_fn)(const char *, int);

/* Default visibility: the library is built with -fvisibility=hidden, and a
 * hidden dlopen would not take part in the executable's symbol lookup. */
__attribute__((visibility("default"))) void *dlopen(const char *file, int mode)
{
    static _Atomic(dlopen_fn) next;
    dlopen_fn fn = atomic_load(&next);
    if (fn == NULL) {
        fn = (dlopen_fn)dlsym(RTLD_NEXT, "dlopen");
        atomic_store(&next, fn);
    }
    return fn(file, mode & ~RTLD_DEEPBIND);
}
#endif
