/* live_gtfsrt_text: a GTFS-Realtime FeedMessage as protobuf text, for
 * people debugging the feed (?format=text). protobuf-c has no text format;
 * this prints any message from its descriptor, as protoc --decode does. */
#ifndef SHUTTLE_LIVE_GTFSRT_TEXT_H
#define SHUTTLE_LIVE_GTFSRT_TEXT_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "live_gtfsrt.h"

/*
 * Decode the packed FeedMessage BUF (LEN bytes) and append its text to
 * OUT: one "name: value" per set field in field-number order, nested
 * messages in braces indented by two spaces, enums by name, strings
 * quoted with C escapes (octal for bytes outside printable ASCII), floats
 * in the shortest of %.6g / %.9g that reads back the same — the output of
 * `protoc --decode transit_realtime.FeedMessage`. Returns LIVE_GTFSRT_OK,
 * _ERR_INVALID (BUF does not decode; ERR says so) or _ERR_NOMEM; on error
 * OUT keeps what it had before.
 */
enum live_gtfsrt_err live_gtfsrt_text(const uint8_t *buf, size_t len,
                                      struct buf *out, char *err,
                                      size_t errlen);

#endif
