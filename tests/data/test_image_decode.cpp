// decode_image, write_jpeg and write_png on real files: round trips, every PNG colour type,
// CMYK JPEG, and each kind of bad input.
#include <gtest/gtest.h>
#include <jpeglib.h>
#include <png.h>
#include <unistd.h>
#include <zlib.h>

#include <atomic>
#include <cmath>
#include <cstdlib>
#include <new>
#include <csetjmp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "pure16/data/image.h"

// The largest single allocation through operator new since the last reset. This test binary
// replaces the global operator new and delete (with malloc and free, as libstdc++'s are) to check
// that a decoder does not allocate for what a header claims before the data backs it.
// They are kept out of line: GCC 12, seeing malloc and free inlined into std::allocator, takes
// the pair for a mismatch (-Wmismatched-new-delete).
std::atomic<size_t> largest_allocation{0};

[[gnu::noinline]] void* operator new(size_t size) {
  size_t largest = largest_allocation.load(std::memory_order_relaxed);
  while (size > largest && !largest_allocation.compare_exchange_weak(largest, size, std::memory_order_relaxed)) {
  }
  if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
  throw std::bad_alloc();
}
[[gnu::noinline]] void operator delete(void* p) noexcept { std::free(p); }
[[gnu::noinline]] void operator delete(void* p, size_t) noexcept { std::free(p); }

namespace pure16::data {
namespace {

namespace fs = std::filesystem;

// A smooth colour gradient (JPEG reproduces it closely) with a channel-dependent slope.
Image gradient(int64_t height, int64_t width, int64_t channels) {
  Image image(height, width, channels);
  for (int64_t y = 0; y < height; ++y)
    for (int64_t x = 0; x < width; ++x)
      for (int64_t c = 0; c < channels; ++c) image.at(y, x, c) = uint8_t(y * 150 / height + x * 50 / width + 20 * c);
  return image;
}

// A busy pattern: every pixel differs from its neighbours (exact formats must keep it).
Image noise(int64_t height, int64_t width, int64_t channels) {
  Image image(height, width, channels);
  for (size_t i = 0; i < image.pixels.size(); ++i) image.pixels[i] = uint8_t((i * 2654435761u) >> 13);
  return image;
}

// What decode_image returns for `image`: gray replicated, alpha dropped.
Image as_rgb(const Image& image) {
  Image rgb(image.height, image.width, 3);
  for (int64_t y = 0; y < image.height; ++y)
    for (int64_t x = 0; x < image.width; ++x)
      for (int64_t c = 0; c < 3; ++c) rgb.at(y, x, c) = image.at(y, x, image.channels >= 3 ? c : 0);
  return rgb;
}

std::vector<uint8_t> read_bytes(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::vector<uint8_t>((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

void write_bytes(const fs::path& path, const std::vector<uint8_t>& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
}

// A PNG of any colour type and bit depth, written with libpng directly (write_png only writes
// 8-bit gray, gray + alpha, RGB and RGBA). `rows` holds the packed rows.
struct RawPng {
  int width = 0, height = 0, bit_depth = 8, color_type = PNG_COLOR_TYPE_RGB;
  bool interlaced = false;
  std::vector<png_color> palette;
  std::vector<png_byte> transparency;  // tRNS entries for a palette
  std::vector<std::vector<uint8_t>> rows;
};

// No C++ object lives in this frame, so libpng's longjmp skips no destructor.
bool write_raw_png_into(png_structp png, png_infop info, FILE* file, const RawPng* p, png_bytepp rows) {
  if (setjmp(png_jmpbuf(png))) return false;
  png_init_io(png, file);
  png_set_IHDR(png, info, png_uint_32(p->width), png_uint_32(p->height), p->bit_depth, p->color_type,
               p->interlaced ? PNG_INTERLACE_ADAM7 : PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
               PNG_FILTER_TYPE_DEFAULT);
  if (!p->palette.empty()) png_set_PLTE(png, info, p->palette.data(), int(p->palette.size()));
  if (!p->transparency.empty()) png_set_tRNS(png, info, p->transparency.data(), int(p->transparency.size()), nullptr);
  png_write_info(png, info);
  if (p->bit_depth == 16) png_set_swap(png);  // the rows hold little-endian uint16
  png_write_image(png, rows);
  png_write_end(png, nullptr);
  return true;
}

void write_raw_png(const fs::path& path, RawPng p) {
  FILE* file = std::fopen(path.c_str(), "wb");
  ASSERT_NE(file, nullptr);
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, nullptr, nullptr, nullptr);
  png_infop info = png_create_info_struct(png);
  std::vector<png_bytep> rows;
  for (auto& row : p.rows) rows.push_back(row.data());
  const bool ok = write_raw_png_into(png, info, file, &p, rows.data());
  png_destroy_write_struct(&png, &info);
  std::fclose(file);
  ASSERT_TRUE(ok);
}

class ImageFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::temp_directory_path() / ("pure16_image_" + std::string(info->name()) + "_" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  // Expects decode_image(path) to throw std::runtime_error naming the file and saying `what`.
  static void expect_error(const fs::path& path, const std::string& what) {
    try {
      decode_image(path);
      ADD_FAILURE() << "decode_image(" << path << ") did not throw";
    } catch (const std::runtime_error& e) {
      const std::string message = e.what();
      EXPECT_NE(message.find(path.string()), std::string::npos) << "message does not name the file: " << message;
      EXPECT_NE(message.find(what), std::string::npos) << "message lacks '" << what << "': " << message;
    }
  }

  fs::path dir_;
};

TEST_F(ImageFiles, PngRoundTripIsExactForEveryChannelCount) {
  for (int64_t channels = 1; channels <= 4; ++channels) {
    const Image image = noise(40, 48, channels);
    const fs::path path = dir_ / (std::to_string(channels) + "_channels.png");
    write_png(path, image);
    const Image decoded = decode_image(path);
    EXPECT_EQ(decoded.channels, 3);
    EXPECT_EQ(decoded, as_rgb(image)) << channels << " channels";
  }
}

TEST_F(ImageFiles, JpegRoundTripIsClose) {
  for (int64_t channels : {1, 3}) {
    const Image image = gradient(40, 48, channels);
    const fs::path path = dir_ / (std::to_string(channels) + "_channels.jpg");
    write_jpeg(path, image, 95);
    const Image decoded = decode_image(path);
    ASSERT_EQ(decoded.height, 40);
    ASSERT_EQ(decoded.width, 48);
    ASSERT_EQ(decoded.channels, 3);
    const Image expected = as_rgb(image);
    double sum = 0;
    int max_error = 0;
    for (size_t i = 0; i < expected.pixels.size(); ++i) {
      const int error = std::abs(int(decoded.pixels[i]) - int(expected.pixels[i]));
      sum += error;
      max_error = std::max(max_error, error);
    }
    EXPECT_LT(sum / double(expected.pixels.size()), 2.0) << channels << " channels";
    EXPECT_LE(max_error, 16) << channels << " channels";
    if (channels == 1)  // gray decodes to three equal channels
      for (size_t i = 0; i < decoded.pixels.size(); i += 3) {
        ASSERT_EQ(decoded.pixels[i], decoded.pixels[i + 1]);
        ASSERT_EQ(decoded.pixels[i], decoded.pixels[i + 2]);
      }
  }
}

TEST_F(ImageFiles, PaletteSixteenBitLowDepthAndInterlacedPngs) {
  const int w = 7, h = 5;  // odd sizes exercise Adam7's partial passes
  // 8-bit palette of 4 colours with a transparency entry (alpha is dropped).
  RawPng palette;
  palette.width = w, palette.height = h, palette.color_type = PNG_COLOR_TYPE_PALETTE;
  palette.palette = {{255, 0, 0}, {0, 255, 0}, {0, 0, 255}, {10, 20, 30}};
  palette.transparency = {0, 128};
  for (int y = 0; y < h; ++y) {
    palette.rows.emplace_back();
    for (int x = 0; x < w; ++x) palette.rows.back().push_back(uint8_t((x + y) % 4));
  }
  write_raw_png(dir_ / "palette.png", palette);
  Image decoded = decode_image(dir_ / "palette.png");
  ASSERT_EQ(decoded.channels, 3);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      const png_color& c = palette.palette[size_t((x + y) % 4)];
      EXPECT_EQ(decoded.at(y, x, 0), c.red);
      EXPECT_EQ(decoded.at(y, x, 1), c.green);
      EXPECT_EQ(decoded.at(y, x, 2), c.blue);
    }

  // 16-bit RGB and gray + alpha: v * 257 scales back to v exactly.
  RawPng rgb16;
  rgb16.width = w, rgb16.height = h, rgb16.bit_depth = 16, rgb16.color_type = PNG_COLOR_TYPE_RGB;
  RawPng gray_alpha16 = rgb16;
  gray_alpha16.color_type = PNG_COLOR_TYPE_GRAY_ALPHA;
  auto value = [](int y, int x, int c) { return (y * 31 + x * 7 + c * 60) % 256; };
  for (int y = 0; y < h; ++y) {
    rgb16.rows.emplace_back();
    gray_alpha16.rows.emplace_back();
    for (int x = 0; x < w; ++x) {
      for (int c = 0; c < 3; ++c) {
        const int v = value(y, x, c) * 257;
        rgb16.rows.back().push_back(uint8_t(v & 0xff));
        rgb16.rows.back().push_back(uint8_t(v >> 8));
      }
      for (int v : {value(y, x, 0) * 257, 1234}) {
        gray_alpha16.rows.back().push_back(uint8_t(v & 0xff));
        gray_alpha16.rows.back().push_back(uint8_t(v >> 8));
      }
    }
  }
  rgb16.interlaced = true;
  write_raw_png(dir_ / "rgb16.png", rgb16);
  write_raw_png(dir_ / "gray_alpha16.png", gray_alpha16);
  const Image rgb = decode_image(dir_ / "rgb16.png");
  const Image gray = decode_image(dir_ / "gray_alpha16.png");
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      for (int c = 0; c < 3; ++c) {
        EXPECT_EQ(rgb.at(y, x, c), value(y, x, c)) << y << "," << x << "," << c;
        EXPECT_EQ(gray.at(y, x, c), value(y, x, 0)) << y << "," << x << "," << c;
      }

  // 1-bit gray: 0 and 1 become 0 and 255.
  RawPng bits;
  bits.width = 9, bits.height = 2, bits.bit_depth = 1, bits.color_type = PNG_COLOR_TYPE_GRAY;
  bits.rows = {{0b10100000, 0b10000000}, {0b01011111, 0b00000000}};
  write_raw_png(dir_ / "bits.png", bits);
  decoded = decode_image(dir_ / "bits.png");
  ASSERT_EQ(decoded.width, 9);
  const int expected[2][9] = {{1, 0, 1, 0, 0, 0, 0, 0, 1}, {0, 1, 0, 1, 1, 1, 1, 1, 0}};
  for (int y = 0; y < 2; ++y)
    for (int x = 0; x < 9; ++x) EXPECT_EQ(decoded.at(y, x, 2), expected[y][x] * 255) << y << "," << x;
}

// A CMYK JPEG as Photoshop writes it (Adobe marker, inverted values), via libjpeg directly.
bool write_cmyk_into(jpeg_compress_struct* cinfo, jpeg_error_mgr* err, unsigned char** buffer, unsigned long* size,
                     const uint8_t* cmyk, int width, int height) {
  cinfo->err = jpeg_std_error(err);
  jpeg_create_compress(cinfo);
  jpeg_mem_dest(cinfo, buffer, size);
  cinfo->image_width = JDIMENSION(width);
  cinfo->image_height = JDIMENSION(height);
  cinfo->input_components = 4;
  cinfo->in_color_space = JCS_CMYK;
  jpeg_set_defaults(cinfo);
  jpeg_set_quality(cinfo, 100, TRUE);
  jpeg_start_compress(cinfo, TRUE);
  for (int y = 0; y < height; ++y) {
    JSAMPROW row = const_cast<uint8_t*>(cmyk) + size_t(y) * size_t(width) * 4;
    jpeg_write_scanlines(cinfo, &row, 1);
  }
  jpeg_finish_compress(cinfo);
  return true;
}

TEST_F(ImageFiles, CmykJpegIsConvertedToRgb) {
  // Stored (inverted) values: 255 means no ink. Cyan ink only, at half strength, and no black.
  const int w = 16, h = 8;
  std::vector<uint8_t> cmyk;
  for (int i = 0; i < w * h; ++i) cmyk.insert(cmyk.end(), {127, 255, 255, 255});
  jpeg_compress_struct cinfo{};
  jpeg_error_mgr err{};
  unsigned char* buffer = nullptr;
  unsigned long size = 0;
  write_cmyk_into(&cinfo, &err, &buffer, &size, cmyk.data(), w, h);
  jpeg_destroy_compress(&cinfo);
  write_bytes(dir_ / "cmyk.jpg", std::vector<uint8_t>(buffer, buffer + size));
  std::free(buffer);
  const Image image = decode_image(dir_ / "cmyk.jpg");
  ASSERT_EQ(image.channels, 3);
  for (int64_t y = 0; y < h; ++y)
    for (int64_t x = 0; x < w; ++x) {
      EXPECT_NEAR(image.at(y, x, 0), 127, 3);
      EXPECT_NEAR(image.at(y, x, 1), 255, 3);
      EXPECT_NEAR(image.at(y, x, 2), 255, 3);
    }
}

TEST_F(ImageFiles, FormatIsRecognizedByContentNotName) {
  const Image image = noise(6, 5, 3);
  write_png(dir_ / "really_a_png.jpg", image);
  EXPECT_EQ(decode_image(dir_ / "really_a_png.jpg"), image);
  write_jpeg(dir_ / "really_a_jpeg.png", gradient(6, 5, 3));
  EXPECT_EQ(decode_image(dir_ / "really_a_jpeg.png").width, 5);
  // And from memory.
  const std::vector<uint8_t> bytes = read_bytes(dir_ / "really_a_png.jpg");
  EXPECT_EQ(decode_image(bytes.data(), bytes.size(), "in memory"), image);
}

TEST_F(ImageFiles, BadFilesAreErrorsNamingTheFile) {
  expect_error(dir_ / "missing.jpg", "no such file");
  expect_error(dir_, "directory");
  write_bytes(dir_ / "empty.png", {});
  expect_error(dir_ / "empty.png", "empty");
  write_bytes(dir_ / "text.jpg", {'h', 'e', 'l', 'l', 'o', '\n'});
  expect_error(dir_ / "text.jpg", "not a JPEG or PNG");

  write_jpeg(dir_ / "good.jpg", gradient(40, 48, 3));
  const std::vector<uint8_t> jpeg = read_bytes(dir_ / "good.jpg");
  // Garbage after a valid start-of-image marker.
  std::vector<uint8_t> corrupt(jpeg.begin(), jpeg.begin() + 3);
  for (int i = 0; i < 200; ++i) corrupt.push_back(uint8_t(i * 37 + 11));
  write_bytes(dir_ / "corrupt.jpg", corrupt);
  expect_error(dir_ / "corrupt.jpg", "corrupt JPEG");
  // A file cut short in the middle of its image data, which follows the start-of-scan marker.
  size_t scan = 0;
  while (scan + 1 < jpeg.size() && !(jpeg[scan] == 0xff && jpeg[scan + 1] == 0xda)) ++scan;
  ASSERT_LT(scan + 100, jpeg.size());
  write_bytes(dir_ / "truncated.jpg",
              std::vector<uint8_t>(jpeg.begin(), jpeg.begin() + ptrdiff_t((scan + jpeg.size()) / 2)));
  expect_error(dir_ / "truncated.jpg", "truncated JPEG");
  // Only the header.
  write_bytes(dir_ / "header_only.jpg", std::vector<uint8_t>(jpeg.begin(), jpeg.begin() + 20));
  expect_error(dir_ / "header_only.jpg", "JPEG");

  write_png(dir_ / "good.png", noise(40, 48, 3));
  const std::vector<uint8_t> png = read_bytes(dir_ / "good.png");
  write_bytes(dir_ / "truncated.png", std::vector<uint8_t>(png.begin(), png.begin() + ptrdiff_t(png.size() * 6 / 10)));
  expect_error(dir_ / "truncated.png", "corrupt PNG");
  std::vector<uint8_t> flipped = png;
  for (size_t i = 100; i < 140; ++i) flipped[i] ^= 0x5a;  // inside IDAT: the CRC check fails
  write_bytes(dir_ / "flipped.png", flipped);
  expect_error(dir_ / "flipped.png", "corrupt PNG");

  try {
    decode_image(corrupt.data(), corrupt.size(), "record 7 of shard.bin");
    ADD_FAILURE() << "no error";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("record 7 of shard.bin"), std::string::npos) << e.what();
  }
}

// Expects decoding `bytes` to throw std::runtime_error naming `source` and saying `what`.
void expect_memory_error(const std::vector<uint8_t>& bytes, const std::string& source, const std::string& what) {
  try {
    decode_image(bytes.data(), bytes.size(), source);
    ADD_FAILURE() << source << " decoded; expected '" << what << "'";
  } catch (const std::runtime_error& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find(source), std::string::npos) << "message does not name " << source << ": " << message;
    EXPECT_NE(message.find(what), std::string::npos) << "message lacks '" << what << "': " << message;
  }
}

TEST_F(ImageFiles, EveryTruncationIsAnError) {
  write_png(dir_ / "a.png", noise(6, 7, 3));
  RawPng interlaced;
  interlaced.width = 7, interlaced.height = 5, interlaced.interlaced = true, interlaced.color_type = PNG_COLOR_TYPE_GRAY;
  interlaced.rows.assign(5, std::vector<uint8_t>(7, 200));
  write_raw_png(dir_ / "interlaced.png", interlaced);
  write_jpeg(dir_ / "a.jpg", gradient(16, 24, 3));
  for (const char* name : {"a.png", "interlaced.png", "a.jpg"}) {
    const std::vector<uint8_t> bytes = read_bytes(dir_ / name);
    ASSERT_NO_THROW(decode_image(bytes.data(), bytes.size(), name));
    for (size_t n = 1; n < bytes.size(); ++n) {
      SCOPED_TRACE(std::string(name) + " cut to " + std::to_string(n) + " bytes");
      const std::vector<uint8_t> prefix(bytes.begin(), bytes.begin() + ptrdiff_t(n));
      expect_memory_error(prefix, name, n < 3 ? "not a JPEG or PNG" : (name[2] == 'j' ? "JPEG" : "PNG"));
    }
  }
}

// Writes a big-endian u32 at `at`.
void put_u32(std::vector<uint8_t>& bytes, size_t at, uint32_t value) {
  for (int i = 0; i < 4; ++i) bytes[at + size_t(i)] = uint8_t(value >> (24 - 8 * i));
}

// A valid small PNG whose header is rewritten to claim width x height (with a correct CRC, so
// only the claim itself is wrong). Layout: signature (8), IHDR length (4), "IHDR" (4), width,
// height, depth, colour type, compression, filter, interlace (13), CRC (4).
std::vector<uint8_t> png_claiming(const fs::path& small_png, uint32_t width, uint32_t height, bool interlaced) {
  std::vector<uint8_t> bytes = read_bytes(small_png);
  put_u32(bytes, 16, width);
  put_u32(bytes, 20, height);
  bytes[28] = interlaced ? 1 : 0;
  put_u32(bytes, 29, uint32_t(crc32(0, bytes.data() + 12, 17)));
  return bytes;
}

// A valid small baseline JPEG whose frame header (SOF0: marker, length, precision, height, width)
// is rewritten to claim width x height.
std::vector<uint8_t> jpeg_claiming(const fs::path& small_jpeg, uint16_t width, uint16_t height) {
  std::vector<uint8_t> bytes = read_bytes(small_jpeg);
  size_t sof = 0;
  while (sof + 9 < bytes.size() && !(bytes[sof] == 0xff && bytes[sof + 1] == 0xc0)) ++sof;
  EXPECT_LT(sof + 9, bytes.size()) << "no SOF0 marker";
  bytes[sof + 5] = uint8_t(height >> 8), bytes[sof + 6] = uint8_t(height);
  bytes[sof + 7] = uint8_t(width >> 8), bytes[sof + 8] = uint8_t(width);
  return bytes;
}

TEST_F(ImageFiles, HeadersClaimingHugeImagesAreRejectedBeforeAllocating) {
  write_png(dir_ / "small.png", noise(8, 8, 3));
  write_jpeg(dir_ / "small.jpg", gradient(16, 16, 3));
  // Over the pixel limit (2^28).
  expect_memory_error(png_claiming(dir_ / "small.png", 20000, 20000, false), "big.png", "more pixels than the limit");
  expect_memory_error(jpeg_claiming(dir_ / "small.jpg", 20000, 20000), "big.jpg", "more than the limit");

  // Within the limit, but far more than the data holds: 16384^2 RGB pixels (805 MB) in a
  // PNG of a hundred bytes, interlaced (which needs the whole buffer at once) or not.
  for (bool interlaced : {false, true}) {
    largest_allocation = 0;
    expect_memory_error(png_claiming(dir_ / "small.png", 16384, 16384, interlaced), "claims.png",
                        "a 16384x16384 image cannot be compressed into");
    EXPECT_LT(largest_allocation.load(), size_t(1) << 20) << "interlaced " << interlaced;
  }
  // A scan whose data ends at the end-of-image marker, long before the image does: libjpeg would
  // fill the missing rows with gray.
  std::vector<uint8_t> short_scan = read_bytes(dir_ / "small.jpg");
  short_scan.resize(short_scan.size() - 40);
  short_scan.insert(short_scan.end(), {0xff, 0xd9});
  expect_memory_error(short_scan, "short_scan.jpg", "truncated JPEG: Corrupt JPEG data: premature end of data segment");

  // 8192^2 (201 MB) in a JPEG cut short in its scan: decoding stops where the data does.
  std::vector<uint8_t> jpeg = jpeg_claiming(dir_ / "small.jpg", 8192, 8192);
  jpeg.resize(jpeg.size() - 40);
  largest_allocation = 0;
  expect_memory_error(jpeg, "claims.jpg", "truncated JPEG");
  EXPECT_LT(largest_allocation.load(), size_t(4) << 20);
}

TEST_F(ImageFiles, WritersRejectWhatTheyCannotWrite) {
  EXPECT_THROW(write_jpeg(dir_ / "a.jpg", noise(4, 4, 4)), std::invalid_argument);
  EXPECT_THROW(write_jpeg(dir_ / "a.jpg", noise(4, 4, 2)), std::invalid_argument);
  EXPECT_THROW(write_jpeg(dir_ / "a.jpg", noise(4, 4, 3), 0), std::invalid_argument);
  EXPECT_THROW(write_png(dir_ / "a.png", noise(4, 4, 5)), std::invalid_argument);
  EXPECT_THROW(write_png(dir_ / "a.png", Image()), std::invalid_argument);
  Image inconsistent = noise(4, 4, 3);
  inconsistent.pixels.pop_back();
  EXPECT_THROW(write_png(dir_ / "a.png", inconsistent), std::invalid_argument);
  const fs::path unwritable = dir_ / "no" / "such" / "dir" / "a.png";
  try {
    write_png(unwritable, noise(4, 4, 3));
    ADD_FAILURE() << "no error";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find(unwritable.string()), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace pure16::data
