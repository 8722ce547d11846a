/* codec/stream.h — opening a media file for the codec readers and writers, where "-" names
 * standard input (reading) or standard output (writing). */
#ifndef PIROGUE_CODEC_STREAM_H
#define PIROGUE_CODEC_STREAM_H

#include <stdbool.h>
#include <stdio.h>

/* Opens path for binary reading (write false) or writing (write true, truncating). On success
 * returns 0, sets *f and sets *own to whether the caller must fclose() it (false for "-").
 * On failure returns -errno and leaves *f and *own untouched. */
int codec_stream_open(const char *path, bool write, FILE **f, bool *own)
        __attribute__((warn_unused_result));

#endif
