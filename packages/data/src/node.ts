// Node-only entry `@altar/data/node`: file system and zlib. The main entry stays browser-safe.
export { decodePng, encodePng, toChannels, type DecodedPng } from './png.js';
export { PngFolderSource, listPngFiles, loadPngFolder, type PngFolderOptions } from './png-folder.js';
export { TextFileTokenStream, loadTokenizerJsonFile, type TextFileStreamOptions } from './text-file.js';
