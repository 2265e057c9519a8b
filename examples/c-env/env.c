/*
 * env-dump in C: prints the argv, the environment and the request body that WAGI passes to a
 * module, in the format documented in examples/env-dump/src/main.rs.
 *
 * Built by `cargo xtask examples` with clang and wasi-libc (Debian packages `clang lld wasi-libc
 * libclang-rt-14-dev-wasm32`):
 *
 *     clang --target=wasm32-wasi --sysroot=/usr -O2 env.c -o c_env.wasm
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern char **environ;

/* Orders `NAME=value` strings by name, then by value, in byte order. */
static int compare_vars(const void *a, const void *b) {
    const char *x = *(char *const *)a;
    const char *y = *(char *const *)b;
    size_t x_len = strcspn(x, "=");
    size_t y_len = strcspn(y, "=");
    int order = memcmp(x, y, x_len < y_len ? x_len : y_len);
    if (order != 0) {
        return order;
    }
    if (x_len != y_len) {
        return x_len < y_len ? -1 : 1;
    }
    return strcmp(x + x_len, y + y_len);
}

int main(int argc, char **argv) {
    fputs("Content-Type: text/plain\n\n", stdout);
    for (int i = 0; i < argc; i++) {
        printf("argv[%d] = %s\n", i, argv[i]);
    }

    size_t count = 0;
    while (environ[count] != NULL) {
        count++;
    }
    char **vars = malloc((count + 1) * sizeof *vars);
    if (vars == NULL) {
        return 1;
    }
    memcpy(vars, environ, count * sizeof *vars);
    qsort(vars, count, sizeof *vars, compare_vars);
    for (size_t i = 0; i < count; i++) {
        printf("%s\n", vars[i]);
    }
    free(vars);

    fputs("stdin:\n", stdout);
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, stdin)) > 0) {
        fwrite(buf, 1, n, stdout);
    }
    if (ferror(stdin) || fflush(stdout) != 0) {
        return 1;
    }
    return 0;
}
