// write_file_atomic and read_file: the two ends every file of pure16 goes through.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>

#include "pure16/io/atomic_file.h"
#include "pure16/io/read_file.h"

namespace pure16::io {
namespace {

namespace fs = std::filesystem;

class FileIo : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::temp_directory_path() / ("pure16_file_io_" + std::string(info->name()) + "_" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  // Expects read_file to throw "<context>: ..." containing `what`.
  static void expect_read_error(const fs::path& path, const std::string& what) {
    try {
      read_file(path, "reading " + path.string());
      ADD_FAILURE() << "read " << path;
    } catch (const std::runtime_error& e) {
      const std::string message = e.what();
      EXPECT_EQ(message.rfind("reading " + path.string() + ": ", 0), 0u) << message;
      EXPECT_NE(message.find(what), std::string::npos) << "message lacks '" << what << "': " << message;
    }
  }

  fs::path dir_;
};

TEST_F(FileIo, AtomicWriteCreatesAndReplacesLeavingNoTemporaryFile) {
  const fs::path path = dir_ / "log.jsonl";
  write_file_atomic(path, "first");
  write_file_atomic(path, std::string("second\0with a zero byte", 23));
  EXPECT_EQ(read_file(path, "log"), std::string("second\0with a zero byte", 23));
  EXPECT_EQ(std::distance(fs::directory_iterator(dir_), fs::directory_iterator()), 1);
}

TEST_F(FileIo, AtomicWriteInTheCurrentDirectory) {
  // A bare file name has no parent path: its directory, flushed after the rename, is ".".
  const fs::path previous = fs::current_path();
  fs::current_path(dir_);
  write_file_atomic("bare.txt", "x");
  fs::current_path(previous);
  EXPECT_EQ(read_file(dir_ / "bare.txt", "bare"), "x");
}

TEST_F(FileIo, AtomicWriteFailureNamesTheFileAndLeavesNothing) {
  const fs::path path = dir_ / "missing-dir" / "log.jsonl";
  try {
    write_file_atomic(path, "x");
    ADD_FAILURE() << "wrote " << path;
  } catch (const std::runtime_error& e) {
    EXPECT_EQ(std::string(e.what()).rfind(path.string() + ": cannot create temporary file", 0), 0u) << e.what();
  }
  // Renaming over a directory fails after the temporary file was written: it is removed.
  fs::create_directories(dir_ / "a-directory");
  EXPECT_THROW(write_file_atomic(dir_ / "a-directory", "x"), std::runtime_error);
  EXPECT_EQ(std::distance(fs::directory_iterator(dir_), fs::directory_iterator()), 1);
}

TEST_F(FileIo, ReadFileRejectsWhatIsNotARegularFile) {
  expect_read_error(dir_ / "missing", "no such file");
  expect_read_error(dir_, "is a directory, not a file");
  const fs::path empty = dir_ / "empty";
  std::ofstream(empty).close();
  EXPECT_EQ(read_file(empty, "empty"), "");
  expect_read_error("/dev/null", "is not a regular file");
}

}  // namespace
}  // namespace pure16::io
