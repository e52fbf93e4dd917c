/** Placeholder shell; the UI issue replaces this with the real app. */
export function App() {
  return (
    <main>
      <h1>Hushroom</h1>
    </main>
  );
}
