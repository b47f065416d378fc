#ifndef CIMAGE_CODECS_H
#define CIMAGE_CODECS_H

#include <stddef.h>
#include <stdint.h>

/// Encoders for pixels in cairo's ARGB32 layout (premultiplied, native-endian 32-bit words:
/// bytes B, G, R, A on little-endian machines). libpng and libjpeg report errors with
/// `longjmp`; these functions catch it and return a non-zero code with a message instead, so
/// an error never unwinds through Swift frames.
///
/// On success the encoded bytes are in `*out` (allocated with malloc; free with
/// `offload_codec_free`) and `*out_size` holds their length.

/// Whether the job encoding asked to stop: encoders ask it every few rows (and libwebp at each
/// step of its progress) and then give up with status 2 and the message "stopped". Set once
/// per process; NULL (the default) never stops.
typedef int (*offload_codec_stop_check)(void);
void offload_codec_set_stop_check(offload_codec_stop_check check);
/// Whether the stop check says to stop now (0 without one).
int offload_codec_should_stop(void);

/// PNG, 8-bit RGB when every pixel is opaque and RGBA (un-premultiplied) otherwise; `level` is
/// the zlib level (0–9); the SUB filter only.
int offload_png_encode(const uint8_t *pixels, int width, int height, int stride, int level,
                       uint8_t **out, size_t *out_size, char *error, size_t error_size);

/// Baseline JPEG at `quality` (1–100), from the pixels' colour (alpha ignored).
int offload_jpeg_encode(const uint8_t *pixels, int width, int height, int stride, int quality,
                        uint8_t **out, size_t *out_size, char *error, size_t error_size);

/// Lossy WebP at `quality` (1–100), encoder method 2 (a fast setting: ~3× the speed of the default).
int offload_webp_encode(const uint8_t *pixels, int width, int height, int stride, int quality,
                        uint8_t **out, size_t *out_size, char *error, size_t error_size);

/// Animated GIF of `frame_count` frames (each `width`×`height` ARGB32 pixels with `stride`,
/// opaque), `delay_cs` hundredths of a second each, looping `loops` times (0: for ever). One
/// palette of 256 colours is chosen for all frames (median cut), every frame is dithered to it
/// (ordered, 8×8 Bayer), and after the first only the rectangle that changed is stored.
int offload_gif_encode(const uint8_t *const *frames, int frame_count, int width, int height, int stride,
                       int delay_cs, int loops, uint8_t **out, size_t *out_size, char *error, size_t error_size);

/// Animated WebP (lossy at `quality`, method 2) of `frame_count` frames, `delay_ms` each.
int offload_webp_animation_encode(const uint8_t *const *frames, int frame_count, int width, int height, int stride,
                                  int delay_ms, int loops, int quality, uint8_t **out, size_t *out_size,
                                  char *error, size_t error_size);

/// Decodes a PNG held in memory to 8-bit RGBA rows (un-premultiplied), refusing images over
/// `max_pixels` before allocating them (a decompression bomb; status 2, with `*width` and
/// `*height` set to the image's size) and any corrupt data (status 1).
int offload_png_decode(const uint8_t *data, size_t size, size_t max_pixels,
                       uint8_t **rgba, int *width, int *height, char *error, size_t error_size);

/// Decodes a JPEG held in memory to 8-bit RGBA rows, with the same limits as the PNG decoder.
int offload_jpeg_decode(const uint8_t *data, size_t size, size_t max_pixels,
                        uint8_t **rgba, int *width, int *height, char *error, size_t error_size);

/// Decodes a WebP held in memory to 8-bit RGBA rows, with the same limits.
int offload_webp_decode(const uint8_t *data, size_t size, size_t max_pixels,
                        uint8_t **rgba, int *width, int *height, char *error, size_t error_size);

void offload_codec_free(void *pointer);

#endif
