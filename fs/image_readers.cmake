# The image readers of `rpfs disk import` (fs/image_reader.h): parsers and
# readers only, no vault, so the clang fuzz build (tests/fuzz/) compiles
# the very same list. Paths are relative to the repository root.
set(RPFS_IMAGE_READER_SOURCES
  fs/vmdk_descriptor_parser.cc
  fs/byte_source.cc
  fs/sparse_extent_header.cc
  fs/grain_directory.cc
  fs/grain_space_map.cc
  fs/sparse_extent_check.cc
  fs/stream_grain.cc
  fs/sparse_vmdk_reader.cc
  fs/raw_image_reader.cc
  fs/concat_reader.cc
  fs/descriptor_image.cc
  fs/open_image.cc)
