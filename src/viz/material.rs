//! `SimpleLit`: the viewer's material. Bevy's `StandardMaterial` (PBR)
//! samples several textures per pixel even when none are set, which makes it
//! the frame's main cost on a software rasteriser (llvmpipe): measured at
//! 640×360, the scene's floor alone took the viewer from 39 to 16 frames/s.
//! This material shades with one key light, a hemisphere ambient and a
//! Blinn-Phong highlight, without textures.

use bevy::asset::{load_internal_asset, uuid_handle};
use bevy::prelude::*;
use bevy::render::render_resource::AsBindGroup;
use bevy::shader::ShaderRef;

const SIMPLE_LIT_SHADER: Handle<Shader> = uuid_handle!("2f8c6f0e-3c55-4d0b-9d1e-6a7c2b9e4f11");

/// Direction towards the key light (world, Y up): above, in front, to the right.
pub const KEY_LIGHT_DIRECTION: Vec3 = Vec3::new(0.35, 0.85, 0.45);

pub struct SimpleLitPlugin;

impl Plugin for SimpleLitPlugin {
    fn build(&self, app: &mut App) {
        load_internal_asset!(app, SIMPLE_LIT_SHADER, "simple_lit.wgsl", Shader::from_wgsl);
        app.add_plugins(MaterialPlugin::<SimpleLit>::default());
    }
}

#[derive(Asset, TypePath, AsBindGroup, Debug, Clone)]
pub struct SimpleLit {
    /// Linear RGBA.
    #[uniform(0)]
    pub color: LinearRgba,
    #[uniform(0)]
    pub light_direction: Vec4,
    /// Ambient, diffuse, specular strength, shininess.
    #[uniform(0)]
    pub shading: Vec4,
    pub alpha_mode: AlphaMode,
}

impl SimpleLit {
    /// A matte (`specular` 0) to glossy (`specular` ~0.5) opaque surface.
    pub fn new(color: Color, specular: f32, shininess: f32) -> Self {
        Self {
            color: color.to_linear(),
            light_direction: KEY_LIGHT_DIRECTION.normalize().extend(0.0),
            shading: Vec4::new(0.45, 0.75, specular, shininess),
            alpha_mode: if color.alpha() < 1.0 { AlphaMode::Blend } else { AlphaMode::Opaque },
        }
    }
}

impl Material for SimpleLit {
    fn fragment_shader() -> ShaderRef {
        ShaderRef::Handle(SIMPLE_LIT_SHADER)
    }

    fn alpha_mode(&self) -> AlphaMode {
        self.alpha_mode
    }
}
