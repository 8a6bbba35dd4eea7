// The few parts of autocannon's API the benches use (it ships no types of its own).
declare module "autocannon" {
  interface Histogram { average: number; p50: number; p99: number; total: number }
  interface Request { method?: string; path?: string; headers?: Record<string, string>; body?: string }
  interface Options { url: string; connections?: number; duration?: number; amount?: number; requests?: Request[] }
  interface Result { requests: Histogram; latency: Histogram; non2xx: number; errors: number; timeouts: number }
  function autocannon(opts: Options): Promise<Result>;
  export default autocannon;
}
