/** A QR code of binary data, drawn as SVG from the `qrcode` library's module matrix. */
import { create } from "qrcode";
import { useMemo } from "react";

export function QrCode({ data, label, size = 200 }: { data: Uint8Array; label: string; size?: number }) {
  const path = useMemo(() => {
    const qr = create([{ data: data.slice(), mode: "byte" }], { errorCorrectionLevel: "M" });
    const n = qr.modules.size;
    let d = "";
    for (let row = 0; row < n; row++) {
      for (let col = 0; col < n; col++) {
        if (qr.modules.get(row, col)) d += `M${String(col + 4)} ${String(row + 4)}h1v1h-1z`;
      }
    }
    return { d, n: n + 8 };
  }, [data]);
  return (
    <svg
      role="img"
      aria-label={label}
      data-testid="safety-qr"
      width={size}
      height={size}
      viewBox={`0 0 ${String(path.n)} ${String(path.n)}`}
      shapeRendering="crispEdges"
    >
      <rect width={path.n} height={path.n} fill="#fff" />
      <path d={path.d} fill="#000" />
    </svg>
  );
}
