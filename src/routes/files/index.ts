import { createRouter } from '../router.ts';
import { createDownloadUrlHandler, createUploadUrlHandler, deleteFileHandler, getFileHandler, listFilesHandler, uploadFileHandler } from './files.handlers.ts';
import { completeMultipartHandler, listPartsHandler, startMultipartHandler, uploadPartHandler } from './files.multipart.ts';
import {
  completeMultipart,
  createDownloadUrl,
  createUploadUrl,
  deleteFile,
  downloadSigned,
  getFile,
  listFiles,
  listParts,
  startMultipart,
  uploadFile,
  uploadPart,
  uploadSigned,
} from './files.routes.ts';
import { downloadSignedHandler, uploadSignedHandler } from './files.signed.ts';

/** Files of an org on R2: streamed and multipart uploads, signed download and upload URLs. */
export const fileRoutes = createRouter()
  .openapi(uploadFile, uploadFileHandler)
  .openapi(listFiles, listFilesHandler)
  .openapi(createUploadUrl, createUploadUrlHandler)
  .openapi(startMultipart, startMultipartHandler)
  .openapi(getFile, getFileHandler)
  .openapi(deleteFile, deleteFileHandler)
  .openapi(createDownloadUrl, createDownloadUrlHandler)
  .openapi(uploadPart, uploadPartHandler)
  .openapi(listParts, listPartsHandler)
  .openapi(completeMultipart, completeMultipartHandler)
  .openapi(downloadSigned, downloadSignedHandler)
  .openapi(uploadSigned, uploadSignedHandler);
