#define _GNU_SOURCE
#include "common/fsutil.h"

#include "common/error.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

int lftf__read_file(const char *path, char **data, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    size_t cap = 0, n = 0;
    if (!f)
        return lftf__err(LFTF_E_IO, "cannot open '%s': %s", path, strerror(errno));
    for (;;) {
        if (n + 1 >= cap) {
            size_t ncap = cap ? cap * 2 : 65536;
            char *nb = realloc(buf, ncap);
            if (!nb) {
                free(buf);
                fclose(f);
                return lftf__oom(path);
            }
            buf = nb;
            cap = ncap;
        }
        size_t got = fread(buf + n, 1, cap - n - 1, f);
        n += got;
        if (got == 0)
            break;
    }
    if (ferror(f)) {
        int e = errno;
        free(buf);
        fclose(f);
        return lftf__err(LFTF_E_IO, "cannot read '%s': %s", path, strerror(e));
    }
    fclose(f);
    buf[n] = '\0';
    *data = buf;
    if (len)
        *len = n;
    return LFTF_OK;
}

int lftf__map_file(const char *path, lftf_mapping *m)
{
    struct stat st;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    m->data = NULL;
    m->size = 0;
    if (fd < 0)
        return lftf__err(LFTF_E_IO, "cannot open '%s': %s", path, strerror(errno));
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return lftf__err(LFTF_E_IO, "'%s' is not a regular file", path);
    }
    if (st.st_size > 0) {
        void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (p == MAP_FAILED) {
            int e = errno;
            close(fd);
            return lftf__err(LFTF_E_IO, "cannot map '%s': %s", path, strerror(e));
        }
        m->data = p;
        m->size = (size_t)st.st_size;
    }
    close(fd);
    return LFTF_OK;
}

void lftf__unmap_pages_hint(const void *data, size_t n)
{
    long page = sysconf(_SC_PAGESIZE);
    uintptr_t lo, hi;
    if (!data || page <= 0)
        return;
    lo = ((uintptr_t)data + (uintptr_t)page - 1) & ~((uintptr_t)page - 1);
    hi = ((uintptr_t)data + n) & ~((uintptr_t)page - 1);
    if (hi > lo)
        (void)madvise((void *)lo, hi - lo, MADV_DONTNEED); /* a hint: failure changes nothing */
}

void lftf__unmap_file(lftf_mapping *m)
{
    if (m && m->data)
        munmap((void *)m->data, m->size);
    if (m) {
        m->data = NULL;
        m->size = 0;
    }
}

int lftf__write_all(int fd, const void *data, size_t len)
{
    const char *p = data;
    while (len > 0) {
        ssize_t w = write(fd, p, len);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += w;
        len -= (size_t)w;
    }
    return 0;
}

int lftf__atomic_begin(const char *path, lftf_atomic_file *a)
{
    size_t n = strlen(path);
    a->path = path;
    a->fd = -1;
    if (!(a->tmp = malloc(n + 16)))
        return lftf__oom("a file name");
    snprintf(a->tmp, n + 16, "%s.tmpXXXXXX", path);
    a->fd = mkostemp(a->tmp, O_CLOEXEC);
    if (a->fd < 0) {
        int e = errno;
        free(a->tmp);
        a->tmp = NULL;
        return lftf__err(LFTF_E_IO, "cannot create a temporary file beside '%s': %s", path,
                         strerror(e));
    }
    return LFTF_OK;
}

void lftf__atomic_abort(lftf_atomic_file *a)
{
    if (a->fd >= 0)
        close(a->fd);
    if (a->tmp)
        unlink(a->tmp);
    free(a->tmp);
    a->tmp = NULL;
    a->fd = -1;
}

int lftf__atomic_commit(lftf_atomic_file *a)
{
    int e;
    if (fchmod(a->fd, 0644) != 0 || fsync(a->fd) != 0)
        goto fail;
    close(a->fd);
    a->fd = -1;
    if (rename(a->tmp, a->path) != 0)
        goto fail;
    free(a->tmp);
    a->tmp = NULL;
    return LFTF_OK;
fail:
    e = errno;
    lftf__atomic_abort(a);
    return lftf__err(LFTF_E_IO, "cannot write '%s': %s", a->path, strerror(e));
}

int lftf__write_file_atomic(const char *path, const void *data, size_t len)
{
    lftf_atomic_file a;
    LFTF_TRY(lftf__atomic_begin(path, &a));
    if (lftf__write_all(a.fd, data, len) != 0) {
        int e = errno;
        lftf__atomic_abort(&a);
        return lftf__err(LFTF_E_IO, "cannot write '%s': %s", path, strerror(e));
    }
    return lftf__atomic_commit(&a);
}

int lftf__copy_file(const char *src, const char *dst)
{
    char buf[1 << 16];
    int in = open(src, O_RDONLY | O_CLOEXEC), out;
    if (in < 0)
        return lftf__err(LFTF_E_IO, "cannot open '%s': %s", src, strerror(errno));
    out = open(dst, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (out < 0) {
        int e = errno;
        close(in);
        return lftf__err(LFTF_E_IO, "cannot create '%s': %s", dst, strerror(e));
    }
    for (;;) {
        ssize_t r = read(in, buf, sizeof buf);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0 || (r > 0 && lftf__write_all(out, buf, (size_t)r) != 0)) {
            int e = errno;
            close(in);
            close(out);
            return lftf__err(LFTF_E_IO, "cannot copy '%s' to '%s': %s", src, dst, strerror(e));
        }
        if (r == 0)
            break;
    }
    close(in);
    if (fsync(out) != 0 || close(out) != 0)
        return lftf__err(LFTF_E_IO, "cannot write '%s': %s", dst, strerror(errno));
    return LFTF_OK;
}

char *lftf__path_join(const char *a, const char *b)
{
    size_t na = strlen(a), nb = strlen(b);
    char *p = malloc(na + nb + 2);
    if (!p) {
        lftf__oom("a path");
        return NULL;
    }
    memcpy(p, a, na);
    if (na > 0 && a[na - 1] != '/')
        p[na++] = '/';
    memcpy(p + na, b, nb + 1);
    return p;
}

int lftf__is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

int lftf__is_file(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

int lftf__dir_nonempty(const char *path)
{
    DIR *d = opendir(path);
    struct dirent *e;
    int found = 0;
    if (!d)
        return 0;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
            found = 1;
            break;
        }
    }
    closedir(d);
    return found;
}

int lftf__same_file(const char *a, const char *b)
{
    struct stat sa, sb;
    if (stat(a, &sa) != 0 || stat(b, &sb) != 0)
        return 0;
    return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

int lftf__make_temp_dir_beside(const char *final_path, char **tmp)
{
    size_t n = strlen(final_path);
    char *t;
    while (n > 1 && final_path[n - 1] == '/')
        n--;
    t = malloc(n + 16);
    if (!t)
        return lftf__oom("a directory name");
    memcpy(t, final_path, n);
    memcpy(t + n, ".tmpXXXXXX", 11);
    if (!mkdtemp(t)) {
        int e = errno;
        free(t);
        return lftf__err(LFTF_E_IO, "cannot create a temporary directory beside '%.*s': %s",
                         (int)n, final_path, strerror(e));
    }
    *tmp = t;
    return LFTF_OK;
}

void lftf__remove_tree(const char *path)
{
    DIR *d = opendir(path);
    struct dirent *e;
    if (!d) {
        unlink(path);
        return;
    }
    while ((e = readdir(d)) != NULL) {
        char *child;
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        child = lftf__path_join(path, e->d_name);
        if (!child)
            continue;
        if (lftf__is_dir(child))
            lftf__remove_tree(child);
        else
            unlink(child);
        free(child);
    }
    closedir(d);
    rmdir(path);
}

int lftf__commit_dir(const char *tmp_dir, const char *final_dir, int overwrite)
{
    char *aside = NULL;
    if (lftf__is_dir(final_dir)) {
        if (lftf__dir_nonempty(final_dir)) {
            if (!overwrite)
                return lftf__err(LFTF_E_EXISTS,
                                 "output directory '%s' is not empty (allow overwriting to "
                                 "replace it)",
                                 final_dir);
            LFTF_TRY(lftf__make_temp_dir_beside(final_dir, &aside));
            rmdir(aside);
            if (rename(final_dir, aside) != 0) {
                int e = errno;
                free(aside);
                return lftf__err(LFTF_E_IO, "cannot move '%s' aside: %s", final_dir, strerror(e));
            }
        } else {
            rmdir(final_dir);
        }
    }
    if (rename(tmp_dir, final_dir) != 0) {
        int e = errno;
        if (aside) {
            rename(aside, final_dir);
            free(aside);
        }
        return lftf__err(LFTF_E_IO, "cannot rename '%s' to '%s': %s", tmp_dir, final_dir,
                         strerror(e));
    }
    if (aside) {
        lftf__remove_tree(aside);
        free(aside);
    }
    return LFTF_OK;
}

/* ---- text buffer ---- */

static int buf_reserve(lftf_buf *b, size_t extra)
{
    if (b->failed)
        return -1;
    if (b->len + extra + 1 > b->cap) {
        size_t ncap = b->cap ? b->cap : 256;
        char *nd;
        while (ncap < b->len + extra + 1)
            ncap *= 2;
        nd = realloc(b->data, ncap);
        if (!nd) {
            b->failed = 1;
            return -1;
        }
        b->data = nd;
        b->cap = ncap;
    }
    return 0;
}

void lftf__buf_append(lftf_buf *b, const char *s, size_t n)
{
    if (buf_reserve(b, n) != 0)
        return;
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
}

void lftf__buf_puts(lftf_buf *b, const char *s) { lftf__buf_append(b, s, strlen(s)); }

void lftf__buf_printf(lftf_buf *b, const char *fmt, ...)
{
    va_list ap;
    int n;
    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || buf_reserve(b, (size_t)n) != 0)
        return;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

void lftf__buf_json_string(lftf_buf *b, const char *s)
{
    lftf__buf_append(b, "\"", 1);
    for (; s && *s; s++) {
        unsigned char c = (unsigned char)*s;
        switch (c) {
        case '"': lftf__buf_append(b, "\\\"", 2); break;
        case '\\': lftf__buf_append(b, "\\\\", 2); break;
        case '\n': lftf__buf_append(b, "\\n", 2); break;
        case '\r': lftf__buf_append(b, "\\r", 2); break;
        case '\t': lftf__buf_append(b, "\\t", 2); break;
        default:
            if (c < 0x20)
                lftf__buf_printf(b, "\\u%04x", c);
            else
                lftf__buf_append(b, (const char *)&c, 1);
        }
    }
    lftf__buf_append(b, "\"", 1);
}

void lftf__buf_json_number(lftf_buf *b, double v)
{
    char tmp[40];
    if (!isfinite(v)) {
        lftf__buf_puts(b, "null");
        return;
    }
    /* shortest representation that reads back to the same double */
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(tmp, sizeof tmp, "%.*g", prec, v);
        if (strtod(tmp, NULL) == v)
            break;
    }
    lftf__buf_puts(b, tmp);
}

int lftf__buf_finish(lftf_buf *b, char **out)
{
    if (b->failed) {
        lftf__buf_free(b);
        return lftf__oom("text");
    }
    if (!b->data) {
        b->data = malloc(1);
        if (!b->data)
            return lftf__oom("text");
        b->data[0] = '\0';
    }
    *out = b->data;
    b->data = NULL;
    b->len = b->cap = 0;
    return LFTF_OK;
}

void lftf__buf_free(lftf_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
    b->failed = 0;
}
