#include "pure16/data/image.h"

#include <algorithm>
#include <csetjmp>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

// jpeglib.h needs size_t and FILE declared before it.
#include <jerror.h>
#include <jpeglib.h>
#include <png.h>

#include "pure16/io/read_file.h"

// Both decoders report errors by longjmp. C++ allows a longjmp only where a throw to the same
// place would run no destructors ([csetjmp.syn]), so every setjmp below sits in a function
// whose frame holds nothing but pointers and C structs; the caller owns the C++ objects and
// turns the failure into an exception after the function has returned.

namespace pure16::data {
namespace {

// Far more than any photograph; keeps a corrupt header from asking for gigabytes.
constexpr uint64_t kMaxPixels = uint64_t(1) << 28;
// What libjpeg may allocate for itself. A progressive JPEG keeps every DCT coefficient of the
// image (2 bytes each) until its last scan, and a few hundred bytes of scans can describe a
// whole image, so a small file could otherwise make it take gigabytes. 1 GiB holds a 4:2:0
// image of kMaxPixels; libjpeg reports a larger need as an error (it has no backing store).
constexpr long kMaxJpegDecoderBytes = 1L << 30;
// Deflate shrinks data at most 1032-fold (zlib's documented bound), so a PNG of n bytes holds
// at most 1032 * n bytes of rows: a header that claims more is rejected before any allocation.
constexpr uint64_t kMaxDeflateRatio = 1032;

std::string hex_bytes(const uint8_t* data, size_t n) {
  std::string s;
  char buf[4];
  for (size_t i = 0; i < n; ++i) {
    std::snprintf(buf, sizeof buf, "%02x", data[i]);
    if (i > 0) s += ' ';
    s += buf;
  }
  return s;
}

void write_bytes(const std::filesystem::path& path, const uint8_t* data, size_t size) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) throw std::runtime_error("image " + path.string() + ": cannot open it for writing");
  out.write(reinterpret_cast<const char*>(data), std::streamsize(size));
  out.close();
  if (!out) throw std::runtime_error("image " + path.string() + ": write error");
}

// ---- JPEG (libjpeg-turbo) ----

struct JpegError {
  jpeg_error_mgr mgr;  // first member: libjpeg hands back a pointer to it
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
  bool truncated;
};

void jpeg_error_exit(j_common_ptr cinfo) {
  auto* error = reinterpret_cast<JpegError*>(cinfo->err);
  cinfo->err->format_message(cinfo, error->message);
  std::longjmp(error->jump, 1);
}

// Warnings (level -1) report corrupt data that libjpeg papers over with gray. Image data that
// ends early, with the file (as PIL, an error) or at a marker before the image is complete, is
// an error raised at once: libjpeg would go on to decode every row the header promises, as
// gray, so a few hundred bytes could cost gigabytes and minutes. The other warnings (extraneous
// bytes, a bad Huffman code) are ignored, since real datasets contain such files and they
// decode to usable images. Nothing is printed.
void jpeg_emit_message(j_common_ptr cinfo, int level) {
  if (level >= 0) return;
  auto* error = reinterpret_cast<JpegError*>(cinfo->err);
  if (cinfo->err->msg_code == JWRN_JPEG_EOF || cinfo->err->msg_code == JWRN_HIT_MARKER) {
    error->truncated = true;
    cinfo->err->format_message(cinfo, error->message);
    std::longjmp(error->jump, 1);
  }
  ++cinfo->err->num_warnings;
}

// Points a (de)compressor's error handling at `error`, cleared: errors jump back to error.jump
// with their message, and warnings go through jpeg_emit_message.
jpeg_error_mgr* install_jpeg_errors(JpegError& error) {
  std::memset(&error, 0, sizeof error);
  jpeg_error_mgr* mgr = jpeg_std_error(&error.mgr);
  mgr->error_exit = jpeg_error_exit;
  mgr->emit_message = jpeg_emit_message;
  return mgr;
}

// Adobe CMYK JPEGs store inverted ink values, so a stored value of 255 means no ink.
void cmyk_row_to_rgb(uint8_t* rgb, const uint8_t* cmyk, int64_t width, bool inverted) {
  for (int64_t x = 0; x < width; ++x) {
    const uint8_t* p = cmyk + 4 * x;
    const unsigned k = inverted ? p[3] : 255u - p[3];
    for (int c = 0; c < 3; ++c) {
      const unsigned v = inverted ? p[c] : 255u - p[c];
      rgb[3 * x + c] = uint8_t((v * k + 127) / 255);
    }
  }
}

// Returns false after a libjpeg error (message in error->message); frame holds no C++ objects.
// Rows are appended to `out` as they are decoded (the buffer grows geometrically), so a header
// that promises more rows than the data holds costs no more memory than the data does.
bool jpeg_decode_into(jpeg_decompress_struct* cinfo, JpegError* error, const uint8_t* data, size_t size, Image* out) {
  if (setjmp(error->jump)) return false;
  jpeg_create_decompress(cinfo);
  cinfo->mem->max_memory_to_use = kMaxJpegDecoderBytes;
  jpeg_mem_src(cinfo, data, static_cast<unsigned long>(size));
  jpeg_read_header(cinfo, TRUE);
  if (uint64_t(cinfo->image_width) * cinfo->image_height > kMaxPixels) {
    std::snprintf(error->message, sizeof error->message, "%ux%u pixels is more than the limit of %llu",
                  cinfo->image_width, cinfo->image_height, static_cast<unsigned long long>(kMaxPixels));
    return false;
  }
  const bool cmyk = cinfo->jpeg_color_space == JCS_CMYK || cinfo->jpeg_color_space == JCS_YCCK;
  cinfo->out_color_space = cmyk ? JCS_CMYK : JCS_RGB;  // gray, YCbCr and RGB all convert to RGB
  jpeg_start_decompress(cinfo);
  const int64_t width = cinfo->output_width, height = cinfo->output_height;
  out->height = height;
  out->width = width;
  out->channels = 3;
  const size_t row_bytes = size_t(width) * 3;
  JSAMPARRAY cmyk_row =
      cmyk ? cinfo->mem->alloc_sarray(reinterpret_cast<j_common_ptr>(cinfo), JPOOL_IMAGE, JDIMENSION(width * 4), 1)
           : nullptr;
  while (cinfo->output_scanline < cinfo->output_height) {
    out->pixels.resize(out->pixels.size() + row_bytes);
    uint8_t* row = out->pixels.data() + size_t(cinfo->output_scanline) * row_bytes;
    if (cmyk) {
      jpeg_read_scanlines(cinfo, cmyk_row, 1);
      cmyk_row_to_rgb(row, cmyk_row[0], width, cinfo->saw_Adobe_marker);
    } else {
      JSAMPROW rows[1] = {row};
      jpeg_read_scanlines(cinfo, rows, 1);
    }
  }
  jpeg_finish_decompress(cinfo);
  return true;
}

Image decode_jpeg(const uint8_t* data, size_t size, const std::string& source) {
  jpeg_decompress_struct cinfo;
  JpegError error;
  std::memset(&cinfo, 0, sizeof cinfo);
  cinfo.err = install_jpeg_errors(error);
  Image image;
  bool ok = false;
  try {
    ok = jpeg_decode_into(&cinfo, &error, data, size, &image);
  } catch (...) {  // std::bad_alloc from the pixel buffer
    jpeg_destroy_decompress(&cinfo);
    throw;
  }
  jpeg_destroy_decompress(&cinfo);
  if (ok) return image;
  if (error.truncated) io::fail_reading("image " + source, std::string("truncated JPEG: ") + error.message);
  if (error.mgr.msg_code == JERR_NO_BACKING_STORE)
    io::fail_reading("image " + source, "JPEG too large: decoding it would take more than " +
                                            std::to_string(kMaxJpegDecoderBytes >> 20) + " MB");
  io::fail_reading("image " + source, std::string("corrupt JPEG: ") + error.message);
}

bool jpeg_encode_into(jpeg_compress_struct* cinfo, JpegError* error, const Image* image, int quality,
                      unsigned char** buffer, unsigned long* size) {
  if (setjmp(error->jump)) return false;
  jpeg_create_compress(cinfo);
  jpeg_mem_dest(cinfo, buffer, size);
  cinfo->image_width = JDIMENSION(image->width);
  cinfo->image_height = JDIMENSION(image->height);
  cinfo->input_components = int(image->channels);
  cinfo->in_color_space = image->channels == 1 ? JCS_GRAYSCALE : JCS_RGB;
  jpeg_set_defaults(cinfo);
  jpeg_set_quality(cinfo, quality, TRUE);
  jpeg_start_compress(cinfo, TRUE);
  while (cinfo->next_scanline < cinfo->image_height) {
    // libjpeg's API is not const-correct; it only reads the rows it is given.
    JSAMPROW rows[1] = {const_cast<uint8_t*>(image->pixels.data()) +
                        size_t(cinfo->next_scanline) * size_t(image->width * image->channels)};
    jpeg_write_scanlines(cinfo, rows, 1);
  }
  jpeg_finish_compress(cinfo);
  return true;
}

// ---- PNG (libpng) ----

struct PngInput {
  const uint8_t* data;
  size_t size;
  size_t position;
};

struct PngError {
  char message[256];
};

void png_read_from_memory(png_structp png, png_bytep out, size_t n) {
  auto* input = static_cast<PngInput*>(png_get_io_ptr(png));
  if (n > input->size - input->position) png_error(png, "file ends early (truncated)");
  std::memcpy(out, input->data + input->position, n);
  input->position += n;
}

void png_write_to_string(png_structp png, png_bytep data, size_t n) {
  static_cast<std::string*>(png_get_io_ptr(png))->append(reinterpret_cast<const char*>(data), n);
}
void png_flush_nothing(png_structp) {}

void png_error_handler(png_structp png, png_const_charp message) {
  auto* error = static_cast<PngError*>(png_get_error_ptr(png));
  std::snprintf(error->message, sizeof error->message, "%s", message);
  png_longjmp(png, 1);
}
void png_warning_handler(png_structp, png_const_charp) {}  // benign (e.g. an unknown chunk): say nothing

// Returns false after a libpng error (message in the PngError); frame holds no C++ objects.
bool png_decode_into(png_structp png, png_infop info, size_t encoded_bytes, Image* out) {
  if (setjmp(png_jmpbuf(png))) return false;
  png_read_info(png, info);
  const png_uint_32 width = png_get_image_width(png, info), height = png_get_image_height(png, info);
  if (uint64_t(width) * height > kMaxPixels) png_error(png, "image has more pixels than the limit of 2^28");
  // Rows as stored, before any transformation (at 1 bit per pixel, an eighth of the width).
  if (uint64_t(height) * png_get_rowbytes(png, info) > kMaxDeflateRatio * encoded_bytes) {
    char message[160];
    std::snprintf(message, sizeof message, "a %ux%u image cannot be compressed into %zu bytes (truncated?)", width,
                  height, encoded_bytes);
    png_error(png, message);
  }
  const int color_type = png_get_color_type(png, info), bit_depth = png_get_bit_depth(png, info);
  if (color_type == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
  if (color_type == PNG_COLOR_TYPE_GRAY && bit_depth < 8) png_set_expand_gray_1_2_4_to_8(png);
  if (bit_depth == 16) png_set_scale_16(png);  // rounds, where png_set_strip_16 truncates
  if ((color_type & PNG_COLOR_MASK_ALPHA) || png_get_valid(png, info, PNG_INFO_tRNS)) png_set_strip_alpha(png);
  if (!(color_type & PNG_COLOR_MASK_COLOR)) png_set_gray_to_rgb(png);
  const int passes = png_set_interlace_handling(png);
  png_read_update_info(png, info);
  if (png_get_channels(png, info) != 3 || png_get_bit_depth(png, info) != 8)
    png_error(png, "unsupported layout: not 8-bit RGB after conversion");
  out->height = height;
  out->width = width;
  out->channels = 3;
  const size_t row_bytes = size_t(width) * 3;
  // Interlaced images come in passes; each pass revisits every row and libpng merges it in, so
  // they need the whole buffer at once. Other images grow by a row as each is read, as JPEGs do.
  if (passes > 1) out->pixels.resize(size_t(height) * row_bytes);
  for (int pass = 0; pass < passes; ++pass)
    for (png_uint_32 y = 0; y < height; ++y) {
      if (passes == 1) out->pixels.resize(out->pixels.size() + row_bytes);
      png_read_row(png, out->pixels.data() + size_t(y) * row_bytes, nullptr);
    }
  png_read_end(png, nullptr);
  return true;
}

Image decode_png(const uint8_t* data, size_t size, const std::string& source) {
  PngError error{};
  PngInput input{data, size, 0};
  png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &error, png_error_handler, png_warning_handler);
  if (png == nullptr) io::fail_reading("image " + source, "cannot create a PNG decoder");
  png_infop info = png_create_info_struct(png);
  if (info == nullptr) {
    png_destroy_read_struct(&png, nullptr, nullptr);
    io::fail_reading("image " + source, "cannot create a PNG decoder");
  }
  png_set_read_fn(png, &input, png_read_from_memory);
  Image image;
  bool ok = false;
  try {
    ok = png_decode_into(png, info, size, &image);
  } catch (...) {  // std::bad_alloc from the pixel buffer
    png_destroy_read_struct(&png, &info, nullptr);
    throw;
  }
  png_destroy_read_struct(&png, &info, nullptr);
  if (!ok) io::fail_reading("image " + source, std::string("corrupt PNG: ") + error.message);
  return image;
}

bool png_encode_into(png_structp png, png_infop info, const Image* image) {
  if (setjmp(png_jmpbuf(png))) return false;
  static constexpr int kColorTypes[] = {0, PNG_COLOR_TYPE_GRAY, PNG_COLOR_TYPE_GRAY_ALPHA, PNG_COLOR_TYPE_RGB,
                                        PNG_COLOR_TYPE_RGB_ALPHA};
  png_set_IHDR(png, info, png_uint_32(image->width), png_uint_32(image->height), 8, kColorTypes[image->channels],
               PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  png_write_info(png, info);
  const size_t stride = size_t(image->width * image->channels);
  for (int64_t y = 0; y < image->height; ++y) png_write_row(png, image->pixels.data() + size_t(y) * stride);
  png_write_end(png, nullptr);
  return true;
}

void check_writable(const Image& image, const std::filesystem::path& path, int max_channels, bool allow_alpha) {
  const std::string what = "image " + path.string() + ": cannot write a ";
  if (image.height <= 0 || image.width <= 0)
    throw std::invalid_argument(what + std::to_string(image.height) + "x" + std::to_string(image.width) + " image");
  const bool ok_channels =
      image.channels == 1 || image.channels == 3 || (allow_alpha && (image.channels == 2 || image.channels == 4));
  if (!ok_channels || image.channels > max_channels)
    throw std::invalid_argument(what + std::to_string(image.channels) + "-channel image in this format");
  if (image.pixels.size() != size_t(image.height * image.width * image.channels))
    throw std::invalid_argument(what + "image whose pixel buffer holds " + std::to_string(image.pixels.size()) +
                                " bytes, not height * width * channels");
}

}  // namespace

Image::Image(int64_t height_, int64_t width_, int64_t channels_)
    : height(height_), width(width_), channels(channels_), pixels(size_t(height_ * width_ * channels_), 0) {
  if (height_ < 0 || width_ < 0 || channels_ < 0)
    throw std::invalid_argument("Image: negative size " + std::to_string(height_) + "x" + std::to_string(width_) + "x" +
                                std::to_string(channels_));
}

Image decode_image(const uint8_t* data, size_t size, const std::string& source) {
  static constexpr uint8_t kPng[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  if (size == 0) io::fail_reading("image " + source, "empty file");
  if (size >= 3 && data[0] == 0xff && data[1] == 0xd8 && data[2] == 0xff) return decode_jpeg(data, size, source);
  if (size >= 8 && std::memcmp(data, kPng, 8) == 0) return decode_png(data, size, source);
  io::fail_reading("image " + source,
                   "not a JPEG or PNG file (it starts with bytes " + hex_bytes(data, std::min<size_t>(size, 8)) + ")");
}

Image decode_image(const std::filesystem::path& path) {
  const std::string bytes = io::read_file(path, "image " + path.string());
  return decode_image(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), path.string());
}

void write_jpeg(const std::filesystem::path& path, const Image& image, int quality) {
  check_writable(image, path, 3, false);
  if (quality < 1 || quality > 100)
    throw std::invalid_argument("image " + path.string() + ": JPEG quality " + std::to_string(quality) +
                                " is outside [1, 100]");
  jpeg_compress_struct cinfo;
  JpegError error;
  std::memset(&cinfo, 0, sizeof cinfo);
  cinfo.err = install_jpeg_errors(error);
  unsigned char* buffer = nullptr;
  unsigned long size = 0;
  const bool ok = jpeg_encode_into(&cinfo, &error, &image, quality, &buffer, &size);
  jpeg_destroy_compress(&cinfo);
  if (!ok) {
    std::free(buffer);
    throw std::runtime_error("image " + path.string() + ": JPEG encoding failed: " + error.message);
  }
  try {
    write_bytes(path, buffer, size);
  } catch (...) {
    std::free(buffer);
    throw;
  }
  std::free(buffer);
}

void write_png(const std::filesystem::path& path, const Image& image) {
  check_writable(image, path, 4, true);
  PngError error{};
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &error, png_error_handler, png_warning_handler);
  if (png == nullptr) throw std::runtime_error("image " + path.string() + ": cannot create a PNG encoder");
  png_infop info = png_create_info_struct(png);
  if (info == nullptr) {
    png_destroy_write_struct(&png, nullptr);
    throw std::runtime_error("image " + path.string() + ": cannot create a PNG encoder");
  }
  std::string encoded;
  png_set_write_fn(png, &encoded, png_write_to_string, png_flush_nothing);
  const bool ok = png_encode_into(png, info, &image);
  png_destroy_write_struct(&png, &info);
  if (!ok) throw std::runtime_error("image " + path.string() + ": PNG encoding failed: " + error.message);
  write_bytes(path, reinterpret_cast<const uint8_t*>(encoded.data()), encoded.size());
}

}  // namespace pure16::data
