// The Cornerstone3D packages the hub's viewer (static/dicom-viewer.js) uses, bundled into one
// ES module by scripts/build-cornerstone (run by `make vendor`; the result is committed).
export * as core from "@cornerstonejs/core";
export * as tools from "@cornerstonejs/tools";
export * as dicomImageLoader from "@cornerstonejs/dicom-image-loader";
