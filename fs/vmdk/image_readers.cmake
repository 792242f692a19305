# The image readers of `rpfs disk import` (fs/vmdk/image_reader.h): parsers and
# readers only, no vault, so the clang fuzz build (tests/fuzz/) compiles
# the very same list. Paths are relative to the repository root.
set(RPFS_IMAGE_READER_SOURCES
  fs/vmdk/vmdk_descriptor_parser.cc
  fs/vmdk/byte_source.cc
  fs/vmdk/sparse_extent_header.cc
  fs/vmdk/grain_directory.cc
  fs/vmdk/grain_space_map.cc
  fs/vmdk/sparse_extent_check.cc
  fs/vmdk/stream_grain.cc
  fs/vmdk/sparse_vmdk_reader.cc
  fs/vmdk/raw_image_reader.cc
  fs/vmdk/concat_reader.cc
  fs/vmdk/descriptor_image.cc
  fs/vmdk/open_image.cc)
