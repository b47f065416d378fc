#include "CImageCodecs.h"

#include <stdio.h>  // before jpeglib.h, which uses FILE
#include <jpeglib.h>
#include <png.h>
#include <setjmp.h>
#include <webp/decode.h>
#include <webp/encode.h>
#include <stdlib.h>
#include <string.h>

void offload_codec_free(void *pointer) { free(pointer); }

// MARK: - PNG

typedef struct {
    uint8_t *data;
    size_t size;
    size_t capacity;
    int failed;
} growing_buffer;

static void buffer_append(growing_buffer *buffer, const uint8_t *bytes, size_t count) {
    if (buffer->failed) return;
    if (buffer->size + count > buffer->capacity) {
        size_t capacity = buffer->capacity ? buffer->capacity : 65536;
        while (capacity < buffer->size + count) capacity *= 2;
        uint8_t *grown = realloc(buffer->data, capacity);
        if (!grown) {
            buffer->failed = 1;
            return;
        }
        buffer->data = grown;
        buffer->capacity = capacity;
    }
    memcpy(buffer->data + buffer->size, bytes, count);
    buffer->size += count;
}

typedef struct {
    jmp_buf jump;
    char *error;
    size_t error_size;
} png_failure;

static void png_on_error(png_structp png, png_const_charp message) {
    png_failure *failure = png_get_error_ptr(png);
    snprintf(failure->error, failure->error_size, "libpng: %s", message);
    longjmp(failure->jump, 1);
}

static void png_on_warning(png_structp png, png_const_charp message) {
    (void)png;
    (void)message;
}

static offload_codec_stop_check stop_check = NULL;

void offload_codec_set_stop_check(offload_codec_stop_check check) { stop_check = check; }

int offload_codec_should_stop(void) { return stop_check != NULL && stop_check(); }

static void png_write_to_buffer(png_structp png, png_bytep bytes, png_size_t count) {
    buffer_append(png_get_io_ptr(png), bytes, count);
}

static void png_flush_nothing(png_structp png) { (void)png; }

/// Whether every pixel of the canvas is opaque (alpha 255).
static int pixels_are_opaque(const uint8_t *pixels, int width, int height, int stride) {
    for (int y = 0; y < height; y++) {
        const uint32_t *source = (const uint32_t *)(pixels + (size_t)y * (size_t)stride);
        for (int x = 0; x < width; x++) {
            if ((source[x] >> 24) != 255) return 0;
        }
    }
    return 1;
}

int offload_png_encode(const uint8_t *pixels, int width, int height, int stride, int level,
                       uint8_t **out, size_t *out_size, char *error, size_t error_size) {
    png_failure failure = {.error = error, .error_size = error_size};
    growing_buffer buffer = {0};
    // An opaque card (most are) is written without its alpha channel: a quarter less to
    // compress and send, and smaller still once deflated.
    const int opaque = pixels_are_opaque(pixels, width, height, stride);
    const int channels = opaque ? 3 : 4;
    uint8_t *row = malloc((size_t)width * 4);
    if (!row) {
        snprintf(error, error_size, "out of memory");
        return 1;
    }
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &failure, png_on_error, png_on_warning);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!png || !info) {
        png_destroy_write_struct(&png, NULL);
        free(row);
        snprintf(error, error_size, "libpng could not start");
        return 1;
    }
    // Everything below that may longjmp touches only variables that are not modified after setjmp.
    if (setjmp(failure.jump)) {
        png_destroy_write_struct(&png, &info);
        free(row);
        free(buffer.data);
        return 1;
    }
    png_set_write_fn(png, &buffer, png_write_to_buffer, png_flush_nothing);
    png_set_compression_level(png, level);
    png_set_filter(png, PNG_FILTER_TYPE_BASE, PNG_FILTER_SUB);
    png_set_IHDR(png, info, (png_uint_32)width, (png_uint_32)height, 8, opaque ? PNG_COLOR_TYPE_RGB : PNG_COLOR_TYPE_RGB_ALPHA,
                 PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_BASE, PNG_FILTER_TYPE_BASE);
    png_write_info(png, info);
    for (int y = 0; y < height; y++) {
        if ((y & 15) == 0 && offload_codec_should_stop()) {
            png_destroy_write_struct(&png, &info);
            free(row);
            free(buffer.data);
            snprintf(error, error_size, "stopped");
            return 2;
        }
        const uint32_t *source = (const uint32_t *)(pixels + (size_t)y * (size_t)stride);
        uint8_t *target = row;
        for (int x = 0; x < width; x++) {
            uint32_t argb = source[x];
            uint32_t a = argb >> 24, r = (argb >> 16) & 0xff, g = (argb >> 8) & 0xff, b = argb & 0xff;
            if (a != 0 && a != 255) {
                r = (r * 255 + a / 2) / a;
                g = (g * 255 + a / 2) / a;
                b = (b * 255 + a / 2) / a;
            }
            target[0] = (uint8_t)r;
            target[1] = (uint8_t)g;
            target[2] = (uint8_t)b;
            if (channels == 4) target[3] = (uint8_t)a;
            target += channels;
        }
        png_write_row(png, row);
    }
    png_write_end(png, info);
    png_destroy_write_struct(&png, &info);
    free(row);
    if (buffer.failed) {
        free(buffer.data);
        snprintf(error, error_size, "out of memory");
        return 1;
    }
    *out = buffer.data;
    *out_size = buffer.size;
    return 0;
}

typedef struct {
    const uint8_t *data;
    size_t size;
    size_t offset;
} reading_buffer;

static void png_read_from_buffer(png_structp png, png_bytep bytes, png_size_t count) {
    reading_buffer *buffer = png_get_io_ptr(png);
    if (count > buffer->size - buffer->offset) png_error(png, "the data ends early");
    memcpy(bytes, buffer->data + buffer->offset, count);
    buffer->offset += count;
}

int offload_png_decode(const uint8_t *data, size_t size, size_t max_pixels,
                       uint8_t **rgba, int *width, int *height, char *error, size_t error_size) {
    png_failure failure = {.error = error, .error_size = error_size};
    reading_buffer buffer = {.data = data, .size = size, .offset = 0};
    uint8_t *volatile pixels = NULL;
    png_bytep *volatile rows = NULL;
    if (size < 8 || png_sig_cmp(data, 0, 8) != 0) {
        snprintf(error, error_size, "not a PNG (bad signature)");
        return 1;
    }
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &failure, png_on_error, png_on_warning);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!png || !info) {
        png_destroy_read_struct(&png, NULL, NULL);
        snprintf(error, error_size, "libpng could not start");
        return 1;
    }
    if (setjmp(failure.jump)) {
        if (rows) png_free(png, rows);
        png_destroy_read_struct(&png, &info, NULL);
        free(pixels);
        return 1;
    }
    png_set_read_fn(png, &buffer, png_read_from_buffer);
    png_read_info(png, info);
    png_uint_32 w = png_get_image_width(png, info), h = png_get_image_height(png, info);
    if (w == 0 || h == 0 || (size_t)w * (size_t)h > max_pixels) {
        snprintf(error, error_size, "a %ux%u PNG is over the limit of %zu pixels", (unsigned)w, (unsigned)h, max_pixels);
        png_destroy_read_struct(&png, &info, NULL);
        *width = (int)(w > 0x7fffffff ? 0x7fffffff : w);
        *height = (int)(h > 0x7fffffff ? 0x7fffffff : h);
        return 2;
    }
    // Whatever the PNG holds, read it as 8-bit RGBA.
    png_set_expand(png);
    png_set_strip_16(png);
    png_set_gray_to_rgb(png);
    png_set_add_alpha(png, 0xff, PNG_FILLER_AFTER);
    png_set_interlace_handling(png);
    png_read_update_info(png, info);
    pixels = malloc((size_t)w * (size_t)h * 4);
    if (!pixels) png_error(png, "out of memory");
    rows = png_malloc(png, sizeof(png_bytep) * h);
    for (png_uint_32 y = 0; y < h; y++) rows[y] = pixels + (size_t)y * w * 4;
    png_read_image(png, rows);
    png_free(png, rows);
    rows = NULL;
    png_read_end(png, NULL);
    png_destroy_read_struct(&png, &info, NULL);
    *rgba = pixels;
    *width = (int)w;
    *height = (int)h;
    return 0;
}

// MARK: - JPEG

typedef struct {
    struct jpeg_error_mgr manager;
    jmp_buf jump;
    char *error;
    size_t error_size;
} jpeg_failure;

static void jpeg_on_error(j_common_ptr info) {
    jpeg_failure *failure = (jpeg_failure *)info->err;
    char message[JMSG_LENGTH_MAX];
    (*info->err->format_message)(info, message);
    snprintf(failure->error, failure->error_size, "libjpeg: %s", message);
    longjmp(failure->jump, 1);
}

int offload_jpeg_encode(const uint8_t *pixels, int width, int height, int stride, int quality,
                        uint8_t **out, size_t *out_size, char *error, size_t error_size) {
    struct jpeg_compress_struct info;
    jpeg_failure failure = {.error = error, .error_size = error_size};
    unsigned char *data = NULL;
    unsigned long size = 0;
    info.err = jpeg_std_error(&failure.manager);
    failure.manager.error_exit = jpeg_on_error;
    if (setjmp(failure.jump)) {
        jpeg_destroy_compress(&info);
        free(data);
        return 1;
    }
    jpeg_create_compress(&info);
    jpeg_mem_dest(&info, &data, &size);
    info.image_width = (JDIMENSION)width;
    info.image_height = (JDIMENSION)height;
    info.input_components = 4;
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    info.in_color_space = JCS_EXT_BGRX;
#else
    info.in_color_space = JCS_EXT_XRGB;
#endif
    jpeg_set_defaults(&info);
    jpeg_set_quality(&info, quality, TRUE);
    info.dct_method = JDCT_ISLOW;
    jpeg_start_compress(&info, TRUE);
    while (info.next_scanline < info.image_height) {
        if ((info.next_scanline & 15) == 0 && offload_codec_should_stop()) {
            jpeg_destroy_compress(&info);
            free(data);
            snprintf(error, error_size, "stopped");
            return 2;
        }
        JSAMPROW row = (JSAMPROW)(pixels + (size_t)info.next_scanline * (size_t)stride);
        jpeg_write_scanlines(&info, &row, 1);
    }
    jpeg_finish_compress(&info);
    jpeg_destroy_compress(&info);
    *out = data;
    *out_size = size;
    return 0;
}

// MARK: - WebP

/// Un-premultiplied BGRA rows (WebP wants straight alpha) in a new buffer.
static uint8_t *straight_bgra(const uint8_t *pixels, int width, int height, int stride) {
    uint8_t *copy = malloc((size_t)width * (size_t)height * 4);
    if (!copy) return NULL;
    for (int y = 0; y < height; y++) {
        const uint32_t *source = (const uint32_t *)(pixels + (size_t)y * (size_t)stride);
        uint8_t *row = copy + (size_t)y * (size_t)width * 4;
        for (int x = 0; x < width; x++) {
            uint32_t argb = source[x];
            uint32_t a = argb >> 24, r = (argb >> 16) & 0xff, g = (argb >> 8) & 0xff, b = argb & 0xff;
            if (a != 0 && a != 255) {
                r = (r * 255 + a / 2) / a;
                g = (g * 255 + a / 2) / a;
                b = (b * 255 + a / 2) / a;
            }
            row[x * 4 + 0] = (uint8_t)b;
            row[x * 4 + 1] = (uint8_t)g;
            row[x * 4 + 2] = (uint8_t)r;
            row[x * 4 + 3] = (uint8_t)a;
        }
    }
    return copy;
}

/// libwebp's progress hook: 0 stops the encoder.
static int webp_keep_going(int percent, const WebPPicture *picture) {
    (void)percent;
    (void)picture;
    return !offload_codec_should_stop();
}

int offload_webp_encode(const uint8_t *pixels, int width, int height, int stride, int quality,
                        uint8_t **out, size_t *out_size, char *error, size_t error_size) {
    WebPConfig config;
    WebPPicture picture;
    WebPMemoryWriter writer;
    if (!WebPConfigPreset(&config, WEBP_PRESET_DEFAULT, (float)quality) || !WebPPictureInit(&picture)) {
        snprintf(error, error_size, "libwebp: version mismatch");
        return 1;
    }
    config.method = 2;
    picture.use_argb = 1;
    picture.width = width;
    picture.height = height;
    uint8_t *bgra = straight_bgra(pixels, width, height, stride);
    if (!bgra || !WebPPictureImportBGRA(&picture, bgra, width * 4)) {
        free(bgra);
        WebPPictureFree(&picture);
        snprintf(error, error_size, "libwebp: out of memory");
        return 1;
    }
    free(bgra);
    WebPMemoryWriterInit(&writer);
    picture.writer = WebPMemoryWrite;
    picture.custom_ptr = &writer;
    picture.progress_hook = webp_keep_going;
    int ok = WebPEncode(&config, &picture);
    int code = picture.error_code;
    WebPPictureFree(&picture);
    if (!ok) {
        WebPMemoryWriterClear(&writer);
        if (code == VP8_ENC_ERROR_USER_ABORT) {
            snprintf(error, error_size, "stopped");
            return 2;
        }
        snprintf(error, error_size, "libwebp: encoding failed (error %d)", code);
        return 1;
    }
    uint8_t *copy = malloc(writer.size);
    if (!copy) {
        WebPMemoryWriterClear(&writer);
        snprintf(error, error_size, "out of memory");
        return 1;
    }
    memcpy(copy, writer.mem, writer.size);
    *out = copy;
    *out_size = writer.size;
    WebPMemoryWriterClear(&writer);
    return 0;
}

// MARK: - JPEG and WebP decoding

int offload_jpeg_decode(const uint8_t *data, size_t size, size_t max_pixels,
                        uint8_t **rgba, int *width, int *height, char *error, size_t error_size) {
    struct jpeg_decompress_struct info;
    jpeg_failure failure = {.error = error, .error_size = error_size};
    uint8_t *volatile pixels = NULL;
    info.err = jpeg_std_error(&failure.manager);
    failure.manager.error_exit = jpeg_on_error;
    if (setjmp(failure.jump)) {
        jpeg_destroy_decompress(&info);
        free(pixels);
        return 1;
    }
    jpeg_create_decompress(&info);
    jpeg_mem_src(&info, data, (unsigned long)size);
    jpeg_read_header(&info, TRUE);
    if (info.image_width == 0 || info.image_height == 0 ||
        (size_t)info.image_width * (size_t)info.image_height > max_pixels) {
        snprintf(error, error_size, "a %ux%u JPEG is over the limit of %zu pixels",
                 (unsigned)info.image_width, (unsigned)info.image_height, max_pixels);
        *width = (int)info.image_width;
        *height = (int)info.image_height;
        jpeg_destroy_decompress(&info);
        return 2;
    }
    info.out_color_space = JCS_EXT_RGBA;
    jpeg_start_decompress(&info);
    size_t row_bytes = (size_t)info.output_width * 4;
    pixels = malloc(row_bytes * info.output_height);
    if (!pixels) {
        snprintf(error, error_size, "out of memory");
        jpeg_destroy_decompress(&info);
        return 1;
    }
    while (info.output_scanline < info.output_height) {
        JSAMPROW row = pixels + row_bytes * info.output_scanline;
        jpeg_read_scanlines(&info, &row, 1);
    }
    jpeg_finish_decompress(&info);
    *width = (int)info.output_width;
    *height = (int)info.output_height;
    jpeg_destroy_decompress(&info);
    *rgba = pixels;
    return 0;
}

int offload_webp_decode(const uint8_t *data, size_t size, size_t max_pixels,
                        uint8_t **rgba, int *width, int *height, char *error, size_t error_size) {
    int w = 0, h = 0;
    if (!WebPGetInfo(data, size, &w, &h)) {
        snprintf(error, error_size, "not a valid WebP");
        return 1;
    }
    if (w <= 0 || h <= 0 || (size_t)w * (size_t)h > max_pixels) {
        snprintf(error, error_size, "a %dx%d WebP is over the limit of %zu pixels", w, h, max_pixels);
        *width = w;
        *height = h;
        return 2;
    }
    size_t bytes = (size_t)w * (size_t)h * 4;
    uint8_t *pixels = malloc(bytes);
    if (!pixels) {
        snprintf(error, error_size, "out of memory");
        return 1;
    }
    if (!WebPDecodeRGBAInto(data, size, pixels, bytes, w * 4)) {
        free(pixels);
        snprintf(error, error_size, "the WebP data is corrupt");
        return 1;
    }
    *rgba = pixels;
    *width = w;
    *height = h;
    return 0;
}
