// Files in and out of the page: images read for chat attachments, exports saved by download.

import type { ImageAttachment } from "./protocol";

/** The gateway refuses images over 5 MiB (decoded). */
export const MAX_IMAGE_BYTES = 5 * 1024 * 1024;

export function readImage(file: File): Promise<ImageAttachment> {
  return new Promise((resolve, reject) => {
    if (!file.type.startsWith("image/")) {
      reject(new Error(`${file.name || "the file"} is not an image`));
      return;
    }
    if (file.size > MAX_IMAGE_BYTES) {
      reject(new Error(`${file.name || "the image"} is larger than 5 MiB`));
      return;
    }
    const reader = new FileReader();
    reader.onerror = () => reject(new Error(`could not read ${file.name || "the image"}`));
    reader.onload = () => {
      const url = String(reader.result);
      const comma = url.indexOf(",");
      resolve({ type: "image", mimeType: file.type, data: url.slice(comma + 1), name: file.name || undefined });
    };
    reader.readAsDataURL(file);
  });
}

export function download(name: string, text: string, mime: string): void {
  const url = URL.createObjectURL(new Blob([text], { type: mime }));
  const a = document.createElement("a");
  a.href = url;
  a.download = name;
  a.rel = "noopener";
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}
