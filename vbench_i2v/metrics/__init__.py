"""Metrics: SSIM, PSNR, Video FID, KID, ACD-C/ACD-I, bootstrap intervals."""
