#include "CImageCodecs.h"

#include <gif_lib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <webp/encode.h>
#include <webp/mux.h>

// MARK: - Palette (median cut over a 5-5-5 histogram)

typedef struct {
    int lo[3], hi[3];   // bounds in 5-bit units, inclusive
    long count;
} colour_box;

static int bucket(int r, int g, int b) { return (r << 10) | (g << 5) | b; }

static void shrink(colour_box *box, const long *histogram) {
    int lo[3] = {31, 31, 31}, hi[3] = {0, 0, 0};
    long count = 0;
    for (int r = box->lo[0]; r <= box->hi[0]; r++)
        for (int g = box->lo[1]; g <= box->hi[1]; g++)
            for (int b = box->lo[2]; b <= box->hi[2]; b++) {
                long n = histogram[bucket(r, g, b)];
                if (!n) continue;
                count += n;
                int c[3] = {r, g, b};
                for (int k = 0; k < 3; k++) {
                    if (c[k] < lo[k]) lo[k] = c[k];
                    if (c[k] > hi[k]) hi[k] = c[k];
                }
            }
    box->count = count;
    if (count) {
        memcpy(box->lo, lo, sizeof lo);
        memcpy(box->hi, hi, sizeof hi);
    }
}

/// Fills `palette` (RGB triples) with up to 256 colours; returns how many.
static int median_cut(const long *histogram, uint8_t *palette) {
    colour_box boxes[256];
    int count = 1;
    boxes[0] = (colour_box){{0, 0, 0}, {31, 31, 31}, 0};
    shrink(&boxes[0], histogram);
    while (count < 256) {
        // Split the box with the longest side (weighted by its pixels).
        int best = -1;
        long best_score = 0;
        for (int i = 0; i < count; i++) {
            int side = 0;
            for (int k = 0; k < 3; k++) if (boxes[i].hi[k] - boxes[i].lo[k] > side) side = boxes[i].hi[k] - boxes[i].lo[k];
            long score = side * (boxes[i].count > 0 ? 1 + boxes[i].count / 64 : 0);
            if (side > 0 && score > best_score) {
                best_score = score;
                best = i;
            }
        }
        if (best < 0) break;
        colour_box *box = &boxes[best];
        int axis = 0;
        for (int k = 1; k < 3; k++) if (box->hi[k] - box->lo[k] > box->hi[axis] - box->lo[axis]) axis = k;
        // The median along the axis, from the box's counts per value of that axis.
        long marginal[32] = {0};
        for (int r = box->lo[0]; r <= box->hi[0]; r++)
            for (int g = box->lo[1]; g <= box->hi[1]; g++)
                for (int b = box->lo[2]; b <= box->hi[2]; b++) {
                    int c[3] = {r, g, b};
                    marginal[c[axis]] += histogram[bucket(r, g, b)];
                }
        long half = box->count / 2, seen = 0;
        int cut = box->lo[axis];
        for (int v = box->lo[axis]; v < box->hi[axis]; v++) {
            seen += marginal[v];
            cut = v;
            if (seen >= half) break;
        }
        colour_box upper = *box;
        box->hi[axis] = cut;
        upper.lo[axis] = cut + 1;
        shrink(box, histogram);
        shrink(&upper, histogram);
        boxes[count++] = upper;
    }
    int colours = 0;
    for (int i = 0; i < count; i++) {
        if (!boxes[i].count) continue;
        double sum[3] = {0, 0, 0};
        for (int r = boxes[i].lo[0]; r <= boxes[i].hi[0]; r++)
            for (int g = boxes[i].lo[1]; g <= boxes[i].hi[1]; g++)
                for (int b = boxes[i].lo[2]; b <= boxes[i].hi[2]; b++) {
                    long n = histogram[bucket(r, g, b)];
                    sum[0] += n * (r * 8 + 4);
                    sum[1] += n * (g * 8 + 4);
                    sum[2] += n * (b * 8 + 4);
                }
        for (int k = 0; k < 3; k++) palette[colours * 3 + k] = (uint8_t)(sum[k] / boxes[i].count + 0.5);
        colours++;
    }
    return colours ? colours : 1;
}

static int nearest(const uint8_t *palette, int colours, int r, int g, int b) {
    int best = 0;
    long best_distance = 1L << 40;
    for (int i = 0; i < colours; i++) {
        long dr = r - palette[i * 3], dg = g - palette[i * 3 + 1], db = b - palette[i * 3 + 2];
        long distance = 2 * dr * dr + 4 * dg * dg + 3 * db * db;
        if (distance < best_distance) {
            best_distance = distance;
            best = i;
        }
    }
    return best;
}

static inline int clamp255(int v) { return v < 0 ? 0 : v > 255 ? 255 : v; }

static const int bayer[8][8] = {
    {0, 32, 8, 40, 2, 34, 10, 42},   {48, 16, 56, 24, 50, 18, 58, 26},
    {12, 44, 4, 36, 14, 46, 6, 38},  {60, 28, 52, 20, 62, 30, 54, 22},
    {3, 35, 11, 43, 1, 33, 9, 41},   {51, 19, 59, 27, 49, 17, 57, 25},
    {15, 47, 7, 39, 13, 45, 5, 37},  {63, 31, 55, 23, 61, 29, 53, 21},
};

// MARK: - GIF

typedef struct {
    uint8_t *data;
    size_t size, capacity;
    int failed;
} gif_buffer;

static int gif_write(GifFileType *gif, const GifByteType *bytes, int count) {
    gif_buffer *buffer = gif->UserData;
    if (buffer->failed) return 0;
    if (buffer->size + (size_t)count > buffer->capacity) {
        size_t capacity = buffer->capacity ? buffer->capacity * 2 : 1 << 16;
        while (capacity < buffer->size + (size_t)count) capacity *= 2;
        uint8_t *grown = realloc(buffer->data, capacity);
        if (!grown) {
            buffer->failed = 1;
            return 0;
        }
        buffer->data = grown;
        buffer->capacity = capacity;
    }
    memcpy(buffer->data + buffer->size, bytes, (size_t)count);
    buffer->size += (size_t)count;
    return count;
}

int offload_gif_encode(const uint8_t *const *frames, int frame_count, int width, int height, int stride,
                       int delay_cs, int loops, uint8_t **out, size_t *out_size, char *error, size_t error_size) {
    long *histogram = calloc(32768, sizeof(long));
    int16_t *lookup = malloc(32768 * sizeof(int16_t));
    gif_buffer buffer = {0};
    uint8_t palette[256 * 3];
    uint8_t *indices = NULL, *previous = NULL;
    int status = 1;
    GifFileType *gif = NULL;
    ColorMapObject *map = NULL;
    if (!histogram || !lookup) {
        snprintf(error, error_size, "out of memory");
        goto done;
    }
    for (int f = 0; f < frame_count; f++)
        for (int y = 0; y < height; y += 2) {
            const uint32_t *row = (const uint32_t *)(frames[f] + (size_t)y * (size_t)stride);
            for (int x = 0; x < width; x += 2) {
                uint32_t p = row[x];
                histogram[bucket((p >> 19) & 31, (p >> 11) & 31, (p >> 3) & 31)]++;
            }
        }
    int colours = median_cut(histogram, palette);
    // The dither's reach: about the distance between neighbouring palette colours.
    const int spread = colours >= 128 ? 16 : 32;
    for (int i = 0; i < 32768; i++) lookup[i] = -1;
    int error_code = 0;
    gif = EGifOpen(&buffer, gif_write, &error_code);
    map = GifMakeMapObject(256, NULL);
    if (!gif || !map) {
        snprintf(error, error_size, "giflib could not start (%d)", error_code);
        goto done;
    }
    for (int i = 0; i < 256; i++) {
        int k = i < colours ? i : 0;
        map->Colors[i].Red = palette[k * 3];
        map->Colors[i].Green = palette[k * 3 + 1];
        map->Colors[i].Blue = palette[k * 3 + 2];
    }
    EGifSetGifVersion(gif, true);
    if (EGifPutScreenDesc(gif, width, height, 8, 0, map) == GIF_ERROR) goto gif_failed;
    // NETSCAPE2.0 loop extension.
    unsigned char netscape[] = "NETSCAPE2.0";
    unsigned char loop_block[3] = {1, (unsigned char)(loops & 0xff), (unsigned char)((loops >> 8) & 0xff)};
    if (EGifPutExtensionLeader(gif, APPLICATION_EXT_FUNC_CODE) == GIF_ERROR ||
        EGifPutExtensionBlock(gif, 11, netscape) == GIF_ERROR ||
        EGifPutExtensionBlock(gif, 3, loop_block) == GIF_ERROR ||
        EGifPutExtensionTrailer(gif) == GIF_ERROR) goto gif_failed;
    indices = malloc((size_t)width * (size_t)height);
    previous = malloc((size_t)width * (size_t)height);
    if (!indices || !previous) {
        snprintf(error, error_size, "out of memory");
        goto done;
    }
    for (int f = 0; f < frame_count; f++) {
        if (offload_codec_should_stop()) {
            snprintf(error, error_size, "stopped");
            status = 2;
            goto done;
        }
        // Dither the whole frame to palette indices with an 8×8 ordered (Bayer) pattern: each
        // pixel depends on itself only, so pixels that did not move map to the same index in
        // every frame, and the pattern compresses far better than error diffusion.
        for (int y = 0; y < height; y++) {
            const uint32_t *row = (const uint32_t *)(frames[f] + (size_t)y * (size_t)stride);
            uint8_t *out_row = indices + (size_t)y * width;
            for (int x = 0; x < width; x++) {
                uint32_t p = row[x];
                int offset = (bayer[y & 7][x & 7] - 32) * spread / 64;
                int r = clamp255((int)((p >> 16) & 0xff) + offset);
                int g = clamp255((int)((p >> 8) & 0xff) + offset);
                int b = clamp255((int)(p & 0xff) + offset);
                int key = bucket(r >> 3, g >> 3, b >> 3);
                if (lookup[key] < 0) lookup[key] = (int16_t)nearest(palette, colours, (r & ~7) + 4, (g & ~7) + 4, (b & ~7) + 4);
                out_row[x] = (uint8_t)lookup[key];
            }
        }
        // After the first frame, only the rectangle that changed is written (the rest stays).
        int left = 0, top = 0, right = width - 1, bottom = height - 1;
        if (f > 0) {
            left = width; top = height; right = -1; bottom = -1;
            for (int y = 0; y < height; y++) {
                const uint8_t *a = indices + (size_t)y * width, *b = previous + (size_t)y * width;
                if (memcmp(a, b, (size_t)width) == 0) continue;
                if (y < top) top = y;
                bottom = y;
                for (int x = 0; x < width; x++) {
                    if (a[x] != b[x]) {
                        if (x < left) left = x;
                        if (x > right) right = x;
                    }
                }
            }
            if (right < 0) { left = 0; top = 0; right = 0; bottom = 0; }
        }
        GraphicsControlBlock control = {.DisposalMode = DISPOSE_DO_NOT, .UserInputFlag = false,
                                        .DelayTime = delay_cs, .TransparentColor = NO_TRANSPARENT_COLOR};
        GifByteType extension[4];
        size_t length = EGifGCBToExtension(&control, extension);
        if (EGifPutExtension(gif, GRAPHICS_EXT_FUNC_CODE, (int)length, extension) == GIF_ERROR) goto gif_failed;
        if (EGifPutImageDesc(gif, left, top, right - left + 1, bottom - top + 1, false, NULL) == GIF_ERROR) goto gif_failed;
        for (int y = top; y <= bottom; y++) {
            if (EGifPutLine(gif, indices + (size_t)y * width + left, right - left + 1) == GIF_ERROR) goto gif_failed;
        }
        uint8_t *swap = previous;
        previous = indices;
        indices = swap;
    }
    if (EGifCloseFile(gif, &error_code) == GIF_ERROR) {
        gif = NULL;
        snprintf(error, error_size, "giflib: closing failed (%d)", error_code);
        goto done;
    }
    gif = NULL;
    if (buffer.failed) {
        snprintf(error, error_size, "out of memory");
        goto done;
    }
    *out = buffer.data;
    *out_size = buffer.size;
    buffer.data = NULL;
    status = 0;
    goto done;
gif_failed:
    snprintf(error, error_size, "giflib: %s", GifErrorString(gif->Error));
done:
    if (gif) EGifCloseFile(gif, &error_code);
    if (map) GifFreeMapObject(map);
    free(buffer.data);
    free(histogram);
    free(lookup);
    free(indices);
    free(previous);
    return status;
}

// MARK: - Animated WebP

int offload_webp_animation_encode(const uint8_t *const *frames, int frame_count, int width, int height, int stride,
                                  int delay_ms, int loops, int quality, uint8_t **out, size_t *out_size,
                                  char *error, size_t error_size) {
    WebPAnimEncoderOptions options;
    WebPConfig config;
    if (!WebPAnimEncoderOptionsInit(&options) || !WebPConfigPreset(&config, WEBP_PRESET_DEFAULT, (float)quality)) {
        snprintf(error, error_size, "libwebp: version mismatch");
        return 1;
    }
    config.method = 2;
    options.anim_params.loop_count = loops;
    WebPAnimEncoder *encoder = WebPAnimEncoderNew(width, height, &options);
    if (!encoder) {
        snprintf(error, error_size, "libwebp: out of memory");
        return 1;
    }
    int status = 1;
    WebPData data = {0};
    uint8_t *bgra = malloc((size_t)width * (size_t)height * 4);
    if (!bgra) {
        snprintf(error, error_size, "out of memory");
        goto done;
    }
    for (int f = 0; f < frame_count; f++) {
        if (offload_codec_should_stop()) {
            snprintf(error, error_size, "stopped");
            status = 2;
            goto done;
        }
        // Frames are opaque: cairo's premultiplied BGRA words are straight BGRA here.
        for (int y = 0; y < height; y++) memcpy(bgra + (size_t)y * width * 4, frames[f] + (size_t)y * stride, (size_t)width * 4);
        WebPPicture picture;
        WebPPictureInit(&picture);
        picture.use_argb = 1;
        picture.width = width;
        picture.height = height;
        if (!WebPPictureImportBGRA(&picture, bgra, width * 4) ||
            !WebPAnimEncoderAdd(encoder, &picture, f * delay_ms, &config)) {
            snprintf(error, error_size, "libwebp: %s", WebPAnimEncoderGetError(encoder));
            WebPPictureFree(&picture);
            goto done;
        }
        WebPPictureFree(&picture);
    }
    if (!WebPAnimEncoderAdd(encoder, NULL, frame_count * delay_ms, NULL) || !WebPAnimEncoderAssemble(encoder, &data)) {
        snprintf(error, error_size, "libwebp: %s", WebPAnimEncoderGetError(encoder));
        goto done;
    }
    *out = malloc(data.size);
    if (!*out) {
        snprintf(error, error_size, "out of memory");
        goto done;
    }
    memcpy(*out, data.bytes, data.size);
    *out_size = data.size;
    status = 0;
done:
    WebPDataClear(&data);
    WebPAnimEncoderDelete(encoder);
    free(bgra);
    return status;
}
