// A received photo, made ready for a face reference or a comparison: every photo rule of photo/inspect.ts,
// then the engine's template. Shared by the Dukcapil ingest (an enrolment) and the face match (a selfie), so
// both apply exactly the same rules; each decides what a missing template means (a stub, or a refusal).
import { checkPhotoDecodes, decodePhotoBase64, inspectPhotoHeader, type InspectedPhoto } from "../photo/inspect.js";
import { ANALYSIS_MAX_SIDE, type FaceTemplater, type TemplatePriority, type TemplateResult } from "./engine.js";

export interface PreparedPhoto {
  photo: InspectedPhoto;
  template: TemplateResult;
}

/** Throws the photo's 400/413 refusals; never throws for the engine (its failures are in `template`). */
export async function preparePhoto(face: FaceTemplater, base64: string, priority: TemplatePriority): Promise<PreparedPhoto> {
  const photo = await inspectPhotoHeader(decodePhotoBase64(base64));
  // The last rule, the full decode, is the costliest step of the photo's checks (~4 ms of CPU for a 600×750
  // JPEG). A photo the engine analyses at full size is decoded there once, under the rules; a larger one (the
  // engine reduces it as it decodes, which can miss a cut-short scan) is decoded here first. One the engine
  // did not decode (off, out of time, failed, or its strict decode failed) is decoded here afterwards, and
  // refused here if it is corrupt.
  const engineDecodes = Math.max(photo.width, photo.height) <= ANALYSIS_MAX_SIDE;
  if (!engineDecodes) await checkPhotoDecodes(photo.bytes);
  const template = await face.template(photo.bytes, { priority, checkDecode: engineDecodes });
  if (engineDecodes && !decodedByEngine(template)) await checkPhotoDecodes(photo.bytes);
  return { photo, template };
}

/** A template, or a finding about the faces, comes only from pixels the engine decoded. */
const decodedByEngine = (t: TemplateResult) => t.ok || t.cause === "no_face" || t.cause === "multiple_faces";
