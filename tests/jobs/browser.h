// Loads pages in headless Chromium (Debian's chromium), as a user's browser
// would: a screenshot to check that something was drawn, and the DOM after
// the page's scripts ran, to check what.
#pragma once

#include <png.h>
#include <unistd.h>

#include <cstdio>
#include <map>
#include <string>

#include "run_job.h"

namespace canary::testing {

// Chromium with a fresh profile and no background traffic, on `url`, with
// `what` (--screenshot=FILE or --dump-dom). Scripts get `budget_ms` of
// virtual time, which waits for their fetches.
inline JobRun run_chromium(const std::string& url, const std::string& what, int budget_ms = 3000) {
  std::string profile = "/tmp/canary-chromium-" + std::to_string(getpid()) + "-XXXXXX";
  if (!mkdtemp(profile.data())) return {};
  JobRun run = finish_job(
      start_job("/usr/bin/chromium",
                {"--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                 "--disable-background-networking", "--user-data-dir=" + profile, "--window-size=1280,900",
                 "--hide-scrollbars", "--virtual-time-budget=" + std::to_string(budget_ms), what, url},
                false));
  (void)std::system(("rm -rf " + profile).c_str());
  return run;
}

inline std::string page_dom(const std::string& url) { return run_chromium(url, "--dump-dom").out; }

struct Screenshot {
  bool read = false;
  int width = 0, height = 0;
  int colors = 0;             // distinct colours
  double not_background = 0;  // the share of pixels unlike the most common colour
};

// A screenshot of `url`, measured: a blank page has one colour.
inline Screenshot screenshot(const std::string& url) {
  std::string file = "/tmp/canary-screenshot-" + std::to_string(getpid()) + ".png";
  std::remove(file.c_str());
  run_chromium(url, "--screenshot=" + file);
  Screenshot shot;
  png_image image{};
  image.version = PNG_IMAGE_VERSION;
  if (!png_image_begin_read_from_file(&image, file.c_str())) return shot;
  image.format = PNG_FORMAT_RGB;
  std::string pixels(PNG_IMAGE_SIZE(image), '\0');
  if (!png_image_finish_read(&image, nullptr, pixels.data(), 0, nullptr)) return shot;
  std::remove(file.c_str());
  std::map<std::string, int> counts;
  for (std::size_t i = 0; i + 3 <= pixels.size(); i += 3) ++counts[pixels.substr(i, 3)];
  int most = 0;
  for (const auto& [color, n] : counts) most = std::max(most, n);
  shot.read = true;
  shot.width = static_cast<int>(image.width);
  shot.height = static_cast<int>(image.height);
  shot.colors = static_cast<int>(counts.size());
  shot.not_background = 1 - most / static_cast<double>(image.width * image.height);
  return shot;
}

}  // namespace canary::testing
