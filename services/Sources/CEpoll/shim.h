// Linux's epoll, which Swift's Glibc module does not include.
#include <sys/epoll.h>
