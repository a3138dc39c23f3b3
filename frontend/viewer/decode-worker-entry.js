// dicom-image-loader's decoding worker, bundled beside cornerstone.js: the loader starts it as
// new URL("./decodeImageFrameWorker.js", import.meta.url).
import "../node_modules/@cornerstonejs/dicom-image-loader/dist/esm/decodeImageFrameWorker.js";
