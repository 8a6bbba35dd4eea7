// A received photo, made ready for a face reference or a comparison: every photo rule of photo/inspect.ts,
// then the engine's template. Shared by the Dukcapil ingest (an enrolment) and the face match (a selfie), so
// both apply exactly the same rules; each decides what a missing template means (a stub, or a refusal).
import { decodePhotoBase64, inspectPhoto, type InspectedPhoto } from "../photo/inspect.js";
import type { FaceTemplater, TemplatePriority, TemplateResult } from "./engine.js";

export interface PreparedPhoto {
  photo: InspectedPhoto;
  template: TemplateResult;
}

/** Throws the photo's 400/413 refusals; never throws for the engine (its failures are in `template`). */
export async function preparePhoto(face: FaceTemplater, base64: string, priority: TemplatePriority): Promise<PreparedPhoto> {
  const photo = await inspectPhoto(decodePhotoBase64(base64));
  const template = await face.template(photo.bytes, { priority });
  return { photo, template };
}
