// Live expression recognition from the camera (getUserMedia). The face is what lies inside a square
// box, centred at first, that the user drags to move and resizes with the slider (or the mouse wheel);
// each frame's box is cut out at the model's input size and predicted, one frame in flight at a time,
// so that the frame rate is what the adapter sustains. No face detector: the browser's FaceDetector
// (Shape Detection API) exists only on some platforms and behind a flag in Chromium on Linux, and the
// maintained JavaScript detectors (MediaPipe, face-api.js) bring megabytes of weights and a second
// inference runtime; the page says so.
import { toChannels } from './input.js';

export interface FaceBox {
  /** Centre and side, as fractions of the video's width / height / shorter side. */
  cx: number;
  cy: number;
  side: number;
}

export class Camera {
  readonly box: FaceBox = { cx: 0.5, cy: 0.5, side: 0.6 };
  private stream: MediaStream | null = null;
  private running = false;
  private readonly grab = new OffscreenCanvas(1, 1);

  constructor(
    readonly video: HTMLVideoElement,
    readonly overlay: HTMLCanvasElement,
  ) {
    this.setUpDragging();
  }

  get active(): boolean {
    return this.running;
  }

  /** Asks for the camera and starts the video; throws with the browser's reason in plain words. */
  async start(): Promise<void> {
    if (!navigator.mediaDevices?.getUserMedia) throw new Error('This browser gives pages no camera (navigator.mediaDevices is missing; it needs https or http://127.0.0.1).');
    try {
      this.stream = await navigator.mediaDevices.getUserMedia({ video: { width: { ideal: 640 }, height: { ideal: 480 } }, audio: false });
    } catch (error) {
      const name = (error as DOMException).name;
      const why =
        name === 'NotAllowedError' ? 'the camera permission was refused (allow it in the address bar and try again)'
        : name === 'NotFoundError' ? 'no camera was found'
        : name === 'NotReadableError' ? 'the camera is in use by another program'
        : (error as Error).message;
      throw new Error(`Could not start the camera: ${why}.`);
    }
    this.video.srcObject = this.stream;
    await this.video.play();
    this.running = true;
  }

  stop(): void {
    this.running = false;
    this.stream?.getTracks().forEach((track) => track.stop());
    this.stream = null;
    this.video.srcObject = null;
  }

  /** The box in video pixels. */
  boxPixels(): { left: number; top: number; side: number } {
    const [vw, vh] = [this.video.videoWidth, this.video.videoHeight];
    const side = Math.round(this.box.side * Math.min(vw, vh));
    const left = Math.round(Math.min(Math.max(this.box.cx * vw - side / 2, 0), vw - side));
    const top = Math.round(Math.min(Math.max(this.box.cy * vh - side / 2, 0), vh - side));
    return { left, top, side };
  }

  /** The box's pixels now, at [h, w], with `channels` channels (the model's input). */
  frame(channels: number, [h, w]: readonly number[]): Float32Array {
    const { left, top, side } = this.boxPixels();
    [this.grab.width, this.grab.height] = [w, h];
    const ctx = this.grab.getContext('2d', { willReadFrequently: true })!;
    ctx.imageSmoothingQuality = 'high';
    ctx.drawImage(this.video, left, top, side, side, 0, 0, w, h);
    return toChannels(ctx.getImageData(0, 0, w, h), channels);
  }

  /** Draws the box (and the label of the last prediction) over the video. */
  drawBox(label: string): void {
    const [vw, vh] = [this.video.videoWidth, this.video.videoHeight];
    if (!vw || !vh) return;
    if (this.overlay.width !== vw || this.overlay.height !== vh) [this.overlay.width, this.overlay.height] = [vw, vh];
    const ctx = this.overlay.getContext('2d')!;
    ctx.clearRect(0, 0, vw, vh);
    const { left, top, side } = this.boxPixels();
    ctx.fillStyle = 'rgba(0, 0, 0, 0.35)';
    ctx.fillRect(0, 0, vw, top);
    ctx.fillRect(0, top + side, vw, vh - top - side);
    ctx.fillRect(0, top, left, side);
    ctx.fillRect(left + side, top, vw - left - side, side);
    ctx.strokeStyle = '#ffd400';
    ctx.lineWidth = Math.max(2, vw / 200);
    ctx.strokeRect(left, top, side, side);
    if (label) {
      ctx.font = `${Math.round(vh / 18)}px system-ui, sans-serif`;
      ctx.fillStyle = '#ffd400';
      ctx.textBaseline = 'bottom';
      ctx.fillText(label, left + 4, Math.max(top - 4, vh / 18));
    }
  }

  private setUpDragging(): void {
    let dragging: { x: number; y: number; cx: number; cy: number } | null = null;
    const fraction = (event: PointerEvent) => {
      const r = this.overlay.getBoundingClientRect();
      return { x: (event.clientX - r.left) / r.width, y: (event.clientY - r.top) / r.height };
    };
    this.overlay.addEventListener('pointerdown', (event) => {
      const { x, y } = fraction(event);
      dragging = { x, y, cx: this.box.cx, cy: this.box.cy };
      this.overlay.setPointerCapture(event.pointerId);
    });
    this.overlay.addEventListener('pointermove', (event) => {
      if (!dragging) return;
      const { x, y } = fraction(event);
      this.box.cx = Math.min(1, Math.max(0, dragging.cx + x - dragging.x));
      this.box.cy = Math.min(1, Math.max(0, dragging.cy + y - dragging.y));
    });
    const end = () => (dragging = null);
    this.overlay.addEventListener('pointerup', end);
    this.overlay.addEventListener('pointercancel', end);
    this.overlay.addEventListener('wheel', (event) => {
      event.preventDefault();
      this.box.side = Math.min(1, Math.max(0.15, this.box.side * (event.deltaY > 0 ? 0.95 : 1.05)));
      this.overlay.dispatchEvent(new CustomEvent('boxresize'));
    }, { passive: false });
  }
}
