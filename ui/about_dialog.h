// SPDX-FileCopyrightText: 2026 The ptscope authors
// SPDX-License-Identifier: MIT
#pragma once

#include <QString>

class QWidget;

namespace ptscope::ui {

// Help > About ptscope: version, commit, Qt (run time and build time) and the compute backend.
QString aboutText();
void showAboutDialog(QWidget *parent);

} // namespace ptscope::ui
