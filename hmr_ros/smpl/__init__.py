"""smpl"""
