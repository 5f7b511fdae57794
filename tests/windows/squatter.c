/* The hostile neighbour on Windows: creates the pipe name before smtp32d does, says so on
 * stdout ("squatting"), waits for one client and prints how many bytes it sent before going
 * away ("received N"). A client that checks who serves the pipe sends nothing: received 0. */
#include <stdio.h>
#include <windows.h>

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: squatter \\\\.\\pipe\\NAME\n");
        return 2;
    }
    HANDLE pipe = CreateNamedPipeA(argv[1], PIPE_ACCESS_DUPLEX, PIPE_TYPE_BYTE | PIPE_WAIT,
                                   PIPE_UNLIMITED_INSTANCES, 65536, 65536, 0, NULL);
    if (pipe == INVALID_HANDLE_VALUE) {
        fprintf(stderr, "squatter: CreateNamedPipe failed: %lu\n", GetLastError());
        return 1;
    }
    printf("squatting\n");
    fflush(stdout);
    if (!ConnectNamedPipe(pipe, NULL) && GetLastError() != ERROR_PIPE_CONNECTED) {
        fprintf(stderr, "squatter: ConnectNamedPipe failed: %lu\n", GetLastError());
        return 1;
    }
    unsigned long total = 0;
    char buf[4096];
    DWORD n;
    while (ReadFile(pipe, buf, sizeof buf, &n, NULL) && n > 0)
        total += n;
    printf("received %lu\n", total);
    return 0;
}
