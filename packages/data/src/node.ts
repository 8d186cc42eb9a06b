/**
 * Node-only entry `@altar/data/node`: file system and zlib (PNG folders, text files, text corpora with a token
 * cache, tokenizer files).
 * The main entry stays browser-safe.
 *
 * @module @altar/data/node
 */
export { decodePng, encodePng, toChannels, type DecodedPng } from './png.js';
export { PngFolderSource, listPngFiles, loadPngFolder, type PngFolderOptions } from './png-folder.js';
export { TextFileTokenStream, loadTokenizerJsonFile, type TextFileStreamOptions } from './text-file.js';
export { BUILTIN_CORPORA, builtinCorpusPath, openTextCorpus, type OpenTextCorpusOptions } from './text-corpus-node.js';
export { IN_MEMORY_TOKEN_BYTES } from './text-corpus-cache.js';
