// The face engine seen from the ingest: asked for a template of an enrolment photo, it either returns one or
// says why not. A verdict is never lost because of the engine: without a template the enrolment is still
// written, as a fallback stub with its cause.

export type FallbackCause = "no_face" | "multiple_faces" | "engine_off" | "engine_error" | "timeout";

export type TemplateResult =
  | { ok: true; template: Buffer; model: string }
  | { ok: false; cause: FallbackCause };

export interface FaceTemplater {
  template(photo: Buffer): Promise<TemplateResult>;
  close(): Promise<void>;
}

/** FACE_ENGINE=off, or no engine configured: every enrolment is a stub with cause `engine_off`. */
export const faceEngineOff: FaceTemplater = {
  template: async () => ({ ok: false, cause: "engine_off" }),
  close: async () => {},
};
