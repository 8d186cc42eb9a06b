/**
 * Node-only entry `@altar/data/node`: file system and zlib (PNG folders, text files, tokenizer files).
 * The main entry stays browser-safe.
 *
 * @module @altar/data/node
 */
export { decodePng, encodePng, toChannels, type DecodedPng } from './png.js';
export { PngFolderSource, listPngFiles, loadPngFolder, type PngFolderOptions } from './png-folder.js';
export { TextFileTokenStream, loadTokenizerJsonFile, type TextFileStreamOptions } from './text-file.js';
