/**
 * torch.save files read without Python: the zip container, a pickle reader
 * for the subset torch writes for state_dicts (anything else is refused by
 * name, nothing is ever executed), and the tensors' storages.
 */
export { openTorchArchive } from "./read.ts";
export { openZip, type ZipArchive, type ZipEntry } from "./zip.ts";
export { MAX_PICKLE_BYTES, type PickleHooks, unpickle } from "./pickle.ts";
export { stateDictHooks, STORAGE_DTYPES } from "./globals.ts";
export { STATE_DICT_KEYS } from "./state_dict.ts";
export { type ByteSource, bytesSource, fileSource } from "./bytes.ts";
export * from "./values.ts";
